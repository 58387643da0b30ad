"""Drift ranked by what the model relies on: the version's permutation importance on its holdout (Evaluate measures
it, the version keeps it as ``feature_importance``) orders the drifted features, so a drift in a feature the model
ignores is shown as such rather than as loudly as one in the feature that drives it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RELIED_ON, IGNORED, NOT_RANKED = "relied_on", "ignored", "not_ranked"
BELOW_KEPT = "below_kept"  # measured, but less important than every feature the version keeps


def relevance(entry: Mapping[str, Any] | None) -> str:
    """Whether the model relies on a feature: its mean importance is positive and above twice its spread over the
    repeats (a feature whose shuffling changes the score no more than noise does is ignored)."""
    if entry is None:
        return NOT_RANKED
    importance, spread = float(entry["importance"]), float(entry.get("std") or 0.0)
    return RELIED_ON if importance > 0 and importance > 2 * spread else IGNORED


def drift_by_importance(features: Mapping[str, Mapping[str, Any]], importance: Mapping[str, Any] | None) -> dict:
    """The drifted features, most important first, each with its importance and whether the model relies on it."""
    kept = (importance or {}).get("features", [])
    by_name = {entry["name"]: entry for entry in kept}
    # the version keeps its most important features: one measured but not kept is less important than all of them
    below = importance is not None and int(importance.get("measured") or 0) > len(kept)
    below_relevance = IGNORED if kept and relevance(kept[-1]) == IGNORED else BELOW_KEPT
    drifted = [name for name, result in features.items() if result.get("drifted")]
    ranked = []
    for name in drifted:
        entry = by_name.get(name)
        ranked.append(
            {
                "feature": name,
                "importance": entry["importance"] if entry else None,
                "std": entry.get("std") if entry else None,
                "rank": entry.get("rank") if entry else None,
                "relevance": below_relevance if entry is None and below else relevance(entry),
                "score": features[name].get("score"),
            }
        )
    ranked.sort(key=lambda item: (item["importance"] is None, -(item["importance"] or 0.0), item["feature"]))
    relied = [item["feature"] for item in ranked if item["relevance"] == RELIED_ON]
    ignored = [item["feature"] for item in ranked if item["relevance"] == IGNORED]
    if importance is None:
        summary = "the version has no feature importance: drifted features are not ranked"
    elif not ranked:
        summary = "no feature drifted"
    else:
        summary = (
            f"{len(ranked)} drifted feature(s): the model relies on {len(relied)} ({', '.join(relied[:10]) or 'none'})"
            f" and ignores {len(ignored)} ({', '.join(ignored[:10]) or 'none'})"
        )
    return {
        "available": importance is not None,
        "scoring": (importance or {}).get("scoring"),
        "features": ranked,
        "relied_on": relied,
        "ignored": ignored,
        "summary": summary,
    }
