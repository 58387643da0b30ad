"""Permutation importance on the holdout: a planted informative feature ranks first and noise is ignored, rows and
repeats stay bounded on wide tables, and the card says which features drive the model and by how much."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression

from mlops.governance import cards
from mlops.monitoring.importance import IGNORED, RELIED_ON, drift_by_importance, relevance
from mlops.records.schema import Feature, Schema
from mlops.training import importance


def planted(task: str, rows: int = 1500, seed: int = 0) -> tuple[np.ndarray, np.ndarray, Schema]:
    """Six features; only 'signal' (planted at a random position) decides the target, 'weak' a little."""
    rng = np.random.default_rng(seed)
    names = ["noise_a", "noise_b", "weak", "noise_c", "noise_d"]
    names.insert(int(rng.integers(0, 6)), "signal")
    x = rng.normal(size=(rows, 6))
    signal, weak = x[:, names.index("signal")], x[:, names.index("weak")]
    if task == "classification":
        y = np.where(2.5 * signal + 0.4 * weak + rng.normal(size=rows) * 0.5 > 0, "yes", "no").astype(object)
        schema = Schema([Feature(n, "numeric") for n in names], "y", "classification", ["no", "yes"], "yes")
    else:
        y = 4 * signal + 0.5 * weak + rng.normal(size=rows) * 0.3
        schema = Schema([Feature(n, "numeric") for n in names], "y", "regression")
    return x.astype(object), y, schema


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_planted_informative_feature_ranks_first_and_noise_is_ignored(task):
    x, y, schema = planted(task)
    train, holdout = slice(0, 1000), slice(1000, None)
    model = (
        LogisticRegression().fit(x[train], y[train])
        if task == "classification"
        else RandomForestRegressor(n_estimators=30, max_depth=6, random_state=0).fit(x[train], y[train])
    )

    result = importance.measure(model, x[holdout], y[holdout], schema, seed=0)

    ranked = [effect.name for effect in result.features]
    assert ranked[0] == "signal" and ranked[1] == "weak"
    assert result.features[0].importance > 10 * max(abs(e.importance) for e in result.features[2:])
    assert [e.rank for e in result.features] == list(range(1, 7))
    assert result.scoring == importance.SCORING[task] and (result.rows, result.repeats) == (500, importance.REPEATS)
    by_name = {e.name: e.to_document() for e in result.features}
    assert relevance(by_name["signal"]) == RELIED_ON
    assert all(relevance(by_name[n]) == IGNORED for n in ("noise_a", "noise_b", "noise_c", "noise_d"))


def test_rows_are_bounded_by_the_budget_on_wide_tables():
    assert importance.bounded_rows(100_000, 10) == importance.MAX_ROWS
    assert importance.bounded_rows(100_000, 400) == importance.MIN_ROWS  # 400 features × 5 repeats
    assert importance.bounded_rows(150, 10) == 150
    too_wide = np.zeros((10, importance.MAX_FEATURES_MEASURED + 1), dtype=object)
    assert importance.measure(None, too_wide, np.zeros(10), Schema([], "y", "regression"), seed=0) is None
    wide = importance.bounded_rows(100_000, 100)
    assert wide * 100 * importance.REPEATS <= importance.PREDICTED_ROWS_BUDGET


def test_drifted_features_are_ranked_by_importance_and_unranked_without_it():
    features = {"a": {"drifted": True, "score": 0.9}, "b": {"drifted": True, "score": 0.2}, "c": {"drifted": False}}
    effects = {
        "scoring": "balanced_accuracy",
        "features": [
            {"name": "b", "importance": 0.2, "std": 0.01, "rank": 1},
            {"name": "c", "importance": 0.1, "std": 0.01, "rank": 2},
            {"name": "a", "importance": 0.0005, "std": 0.001, "rank": 3},
        ],
    }
    ranking = drift_by_importance(features, effects)
    assert [item["feature"] for item in ranking["features"]] == ["b", "a"]  # the louder drift in a comes second
    assert (ranking["relied_on"], ranking["ignored"]) == (["b"], ["a"])
    # a drifted feature measured but not among the kept ones ranks below them: ignored when the last kept one is
    kept_two = {**effects, "features": effects["features"][:2], "measured": 3}
    assert drift_by_importance(features, kept_two)["features"][1]["relevance"] == "below_kept"
    ignored_tail = [effects["features"][0], {"name": "c", "importance": 0.0, "std": 0.01, "rank": 2}]
    effects_ignored_tail = {**kept_two, "features": ignored_tail}
    assert drift_by_importance(features, effects_ignored_tail)["ignored"] == ["a"]
    unranked = drift_by_importance(features, None)
    assert not unranked["available"] and {i["relevance"] for i in unranked["features"]} == {"not_ranked"}


def test_the_card_lists_the_top_features_with_their_effect():
    x, y, schema = planted("classification", seed=3)
    model = LogisticRegression().fit(x[:1000], y[:1000])
    effects = importance.measure(model, x[1000:], y[1000:], schema, seed=0).to_document()

    top = cards._top_features(effects)  # noqa: SLF001 - the card's section, without a registry around it
    lines = "\n".join(cards._importance_lines(top))  # noqa: SLF001

    assert top["top"][0]["name"] == "signal" and len(top["top"]) == 6
    assert "## Why it decides" in lines and "balanced accuracy drops by" in lines
    first_row = next(line for line in lines.splitlines() if line.startswith("| 1 |"))
    assert "signal" in first_row and f"{effects['features'][0]['importance']:+.4f}" in first_row
    assert cards._importance_lines(None) == []  # noqa: SLF001 - a version registered before importance
