"""The decision of one comparison: per-feature statistics and results, the dataset's verdict, data quality.

A feature is **drifted** only when both hold:

* the shift is statistically significant: the feature's test (KS for numbers, chi-square for categories) has a
  p-value below ``alpha`` after a multiple-testing correction across all features (Holm by default), and
* it is large enough to matter: its PSI is at least ``psi_threshold`` (the effect-size floor), so that a tiny
  shift made "significant" by a huge window is not an alarm.

A window smaller than ``min_rows`` is ``insufficient_data``, never drift. The dataset drifts when the share of
drifted features reaches ``drift_share`` or any critical feature drifts. Confirmation over consecutive windows
and the cooldown are the monitor's business (``mlops.monitoring.check``), not this module's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mlops.monitoring.config import DriftConfig
from mlops.monitoring.reference import (
    UNSEEN_CATEGORY,
    CategoricalReference,
    NumericReference,
    Reference,
    baseline_of_columns,
)
from mlops.monitoring.statistics import adjust_p_values, chi2_homogeneity, js_distance, ks_p_value, normal_sf, psi_rows
from mlops.monitoring.window import CategoricalCounts, NumericCounts, Window, add_columns

REPORT_SCHEMA = "mlops.drift_report.v1"
STATUS_OK = "ok"
STATUS_DRIFT = "drift"
STATUS_INSUFFICIENT = "insufficient_data"
HISTOGRAM_CATEGORIES = 12  # categories drawn per feature in a report; the rest are summed into one bar


# ---- per-feature statistics -------------------------------------------------------------------------------
def ks_statistic(feature: NumericReference, counts: NumericCounts) -> float:
    """sup |F_ref - F_cur| exactly: between two consecutive reference points F_ref is constant and F_cur is
    monotone, so the supremum is reached at a reference point or just below the next one."""
    n = counts.present
    if n == 0 or feature.grid.size == 0:
        return 0.0
    below = np.cumsum(counts.below_grid)  # below[j] = rows < grid[j] (j < k); below[k] = n
    at_or_below = below[:-1] + counts.at_grid  # rows <= grid[j]
    reference_cdf = feature.grid_cdf
    gaps_at = np.abs(reference_cdf - at_or_below / n)
    gaps_before_next = np.abs(reference_cdf - below[1:] / n)  # on [grid[j], grid[j+1]): up to F_cur(grid[j+1]-)
    return float(max(gaps_at.max(), gaps_before_next.max(), below[0] / n))


def numeric_statistics(feature: NumericReference, counts: NumericCounts) -> dict[str, Any]:
    n = counts.present
    statistic = ks_statistic(feature, counts)
    p_value = ks_p_value(statistic, n, feature.sample_size) if feature.testable and n else 1.0
    reference_shares = feature.bin_counts / max(int(feature.bin_counts.sum()), 1)
    current_shares = counts.psi_counts / max(n, 1)
    mean = counts.total / n if n else None
    variance = max(counts.total_squares / n - (mean or 0.0) ** 2, 0.0) if n else None
    return {
        "kind": "numeric",
        "test": "ks",
        "statistic": statistic,
        "p_value": p_value,
        "reference": {"rows": feature.rows, "sample_size": feature.sample_size, **feature.summary},
        "current": {
            "mean": mean,
            "std": math.sqrt(variance) if variance is not None else None,
            "min": counts.minimum if n else None,
            "max": counts.maximum if n else None,
        },
        "histogram": {
            "labels": feature.bin_labels(),
            "reference": [float(s) for s in reference_shares],
            "current": [float(s) for s in current_shares],
        },
    }


def categorical_histogram(feature: CategoricalReference, counts: CategoricalCounts) -> dict[str, Any]:
    reference = feature.counts / max(int(feature.counts.sum()), 1)
    current = counts.counts / max(counts.present, 1)
    order = np.argsort(-np.maximum(reference, current), kind="stable")
    shown, rest = order[:HISTOGRAM_CATEGORIES], order[HISTOGRAM_CATEGORIES:]
    labels = ["(not in training)" if feature.categories[i] == UNSEEN_CATEGORY else feature.categories[i] for i in shown]
    reference_shares = [float(reference[i]) for i in shown]
    current_shares = [float(current[i]) for i in shown]
    if rest.size:
        labels.append(f"({rest.size} more)")
        reference_shares.append(float(reference[rest].sum()))
        current_shares.append(float(current[rest].sum()))
    return {"labels": labels, "reference": reference_shares, "current": current_shares}


def categorical_statistics(feature: CategoricalReference, counts: CategoricalCounts) -> dict[str, Any]:
    statistic, dof, p_value = chi2_homogeneity(feature.counts, counts.counts)
    return {
        "kind": "categorical",
        "test": "chi2",
        "statistic": statistic,
        "dof": dof,
        "p_value": p_value if feature.testable and counts.present else 1.0,
        "js_distance": js_distance(feature.counts.astype(float), counts.counts.astype(float)),
        "reference": {"rows": feature.rows, "categories": len(feature.categories)},
        "current": {
            "categories_seen": int((counts.counts > 0).sum()),
            "unseen_rows": int(counts.counts[feature.fallback]) if feature.knows_every_category else 0,
        },
        "histogram": categorical_histogram(feature, counts),
    }


def psi_all(reference: Reference, window: Window, names: list[str]) -> np.ndarray:
    """PSI of every feature at once, over a zero-padded (features × buckets) matrix."""
    rows = []
    for name in names:
        feature, counts = reference.features[name], window.counts[name]
        if isinstance(feature, NumericReference):
            rows.append((feature.bin_counts, counts.psi_counts))  # type: ignore[union-attr]
        else:
            rows.append((feature.counts, counts.counts))  # type: ignore[union-attr]
    width = max((r.size for r, _ in rows), default=1)
    reference_matrix = np.zeros((len(rows), width))
    current_matrix = np.zeros((len(rows), width))
    for i, (reference_counts, current_counts) in enumerate(rows):
        reference_matrix[i, : reference_counts.size] = reference_counts
        current_matrix[i, : current_counts.size] = current_counts
    return psi_rows(reference_matrix, current_matrix)


def decide_feature(result: dict[str, Any], *, enough_rows: bool, window_rows: int, config: DriftConfig) -> None:
    """Set drifted and the reason from the (adjusted) p-value and the PSI floor."""
    test = "KS D" if result["test"] == "ks" else "chi-square"
    significant = result["p_value_adjusted"] < config.alpha
    large = result["score"] >= result["threshold"]
    evidence = (
        f"PSI {result['score']:.3f} {'≥' if large else '<'} {result['threshold']}; {test} {result['statistic']:.3f}, "
        f"adjusted p {result['p_value_adjusted']:.2g} {'<' if significant else '≥'} α {config.alpha}"
    )
    if not enough_rows:
        result["drifted"] = False
        result["reason"] = f"insufficient data: {window_rows} rows < min_rows {config.min_rows} ({evidence})"
    elif not result["testable"]:
        result["drifted"] = False
        result["reason"] = "not tested: no values in the reference or in this window"
    else:
        result["drifted"] = bool(significant and large)
        if result["drifted"]:
            result["reason"] = f"drifted: significant and above the effect floor ({evidence})"
        elif large:
            result["reason"] = f"not drifted: PSI above the floor but not significant ({evidence})"
        elif significant:
            result["reason"] = f"not drifted: significant but below the effect floor ({evidence})"
        else:
            result["reason"] = f"not drifted ({evidence})"


def feature_results(reference: Reference, window: Window, names: list[str], config: DriftConfig) -> dict[str, Any]:
    """Every statistic of the named features, with the correction applied across them and the decisions."""
    if not names:
        return {}
    psi = psi_all(reference, window, names)
    results: dict[str, dict[str, Any]] = {}
    for name, score in zip(names, psi, strict=True):
        feature, counts = reference.features[name], window.counts[name]
        if isinstance(feature, NumericReference):
            result = numeric_statistics(feature, counts)  # type: ignore[arg-type]
        else:
            result = categorical_statistics(feature, counts)  # type: ignore[arg-type]
        rows_seen = counts.present + counts.missing
        results[name] = {
            "drifted": False,
            "method": "psi",
            "score": float(score),
            "threshold": config.psi_threshold,
            "testable": bool(feature.testable and counts.present > 0),
            **result,
            "rows": rows_seen,
            "missing": counts.missing,
            "missing_share": counts.missing / rows_seen if rows_seen else 0.0,
            "reference_missing_share": feature.missing_share,
            "critical": name in config.critical_features,
        }
    tested = [n for n in names if results[n]["testable"]]
    adjusted = adjust_p_values(np.array([results[n]["p_value"] for n in tested]), config.correction)
    for name, p_adjusted in zip(tested, adjusted, strict=True):
        results[name]["p_value_adjusted"] = float(p_adjusted)
    enough = window.rows >= config.min_rows
    for name in names:
        results[name].setdefault("p_value_adjusted", 1.0)
        results[name]["alpha"] = config.alpha
        results[name]["correction"] = config.correction
        decide_feature(results[name], enough_rows=enough, window_rows=window.rows, config=config)
    return results


# ---- data quality ------------------------------------------------------------------------------------------
def data_quality(reference: Reference, window: Window, config: DriftConfig) -> dict[str, Any]:
    violations: list[dict[str, Any]] = []
    enough = window.rows >= config.min_rows
    features = list(reference.features)
    for name in features:
        feature, counts = reference.features[name], window.counts[name]
        if window.rows and counts.absent >= window.rows:
            violations.append(
                {"check": "missing_column", "feature": name, "detail": f"{name!r} is absent from every row"}
            )
            continue
        if counts.mismatched:
            expected = "numbers" if feature.kind == "numeric" else "strings"
            violations.append(
                {
                    "check": "type_mismatch",
                    "feature": name,
                    "rows": counts.mismatched,
                    "share": counts.mismatched / max(window.rows, 1),
                    "detail": f"{counts.mismatched} value(s) of {name!r} are not {expected} (counted as missing)",
                }
            )
        rows_seen = counts.present + counts.missing
        if enough and rows_seen:
            current_share = counts.missing / rows_seen
            increase = current_share - feature.missing_share
            pooled = (counts.missing + feature.missing_share * feature.rows) / (rows_seen + feature.rows)
            spread = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / rows_seen + 1 / max(feature.rows, 1)))
            p_value = normal_sf(increase / spread)
            if increase >= config.missing_share_increase and p_value < config.alpha / len(features):
                violations.append(
                    {
                        "check": "missing_values_increased",
                        "feature": name,
                        "reference_share": feature.missing_share,
                        "current_share": current_share,
                        "threshold": config.missing_share_increase,
                        "p_value": p_value,
                        "detail": f"missing share of {name!r} rose from {feature.missing_share:.1%} to "
                        f"{current_share:.1%} (floor +{config.missing_share_increase:.0%}, p {p_value:.2g})",
                    }
                )
        if isinstance(feature, CategoricalReference) and isinstance(counts, CategoricalCounts) and counts.present:
            unseen_rows = int(counts.counts[feature.fallback]) if feature.knows_every_category else 0
            share = unseen_rows / counts.present
            if enough and unseen_rows and share >= config.new_category_share:
                examples = [value for value, _ in counts.unseen.most_common(10)]
                violations.append(
                    {
                        "check": "new_categories",
                        "feature": name,
                        "rows": unseen_rows,
                        "share": share,
                        "threshold": config.new_category_share,
                        "categories": examples,
                        "detail": f"{share:.1%} of {name!r} values are categories never seen in training, "
                        f"e.g. {', '.join(map(repr, examples[:3]))}",
                    }
                )
    if window.extra_columns:
        names = [name for name, _ in window.extra_columns.most_common(20)]
        violations.append(
            {
                "check": "extra_columns",
                "columns": names,
                "detail": f"columns the model does not know: {', '.join(map(repr, names))}",
            }
        )
    return {"passed": not violations, "violations": violations}


# ---- the whole comparison ------------------------------------------------------------------------------------
def evaluate(
    reference: Reference,
    window: Window,
    config: DriftConfig,
    *,
    prediction: tuple[Reference, Window] | None = None,
) -> dict[str, Any]:
    """The drift result of one window: status, dataset drift, every feature's numbers and decision, data quality
    and (when given) prediction drift. The shape is report.json's (see REPORT_SCHEMA)."""
    names = list(reference.features)
    features = feature_results(reference, window, names, config)
    tested = [n for n in names if features[n]["testable"]]
    drifted = [n for n in names if features[n]["drifted"]]
    share = len(drifted) / len(tested) if tested else 0.0
    critical = [n for n in drifted if n in config.critical_features]
    prediction_result = None
    if prediction is not None:
        prediction_reference, prediction_window = prediction
        (only,) = prediction_reference.features
        # one test, no family to correct over; its own min_rows counts the rows that carried a prediction
        prediction_result = feature_results(prediction_reference, prediction_window, [only], config)[only]
    enough = window.rows >= config.min_rows
    reasons = []
    if not enough:
        reasons.append(f"{window.rows} rows in the window, fewer than min_rows {config.min_rows}")
    dataset_drift = False
    if enough:
        if tested and share >= config.drift_share:
            dataset_drift = True
            reasons.append(f"{len(drifted)} of {len(tested)} features drifted ({share:.0%} ≥ {config.drift_share:.0%})")
        if critical:
            dataset_drift = True
            reasons.append(f"critical feature(s) drifted: {', '.join(critical)}")
        if prediction_result and prediction_result["drifted"] and config.prediction_is_critical:
            dataset_drift = True
            reasons.append("the prediction distribution drifted (prediction_is_critical)")
        if not dataset_drift:
            reasons.append(
                f"{len(drifted)} of {len(tested)} features drifted ({share:.0%} < {config.drift_share:.0%})"
                + (", no critical feature" if config.critical_features else "")
            )
    status = STATUS_INSUFFICIENT if not enough else (STATUS_DRIFT if dataset_drift else STATUS_OK)
    return {
        "schema": REPORT_SCHEMA,
        "status": status,
        "dataset_drift": dataset_drift,
        "reason": "; ".join(reasons),
        "rows": window.rows,
        "drift_share": share,
        "drifted_features": drifted,
        "tested_features": len(tested),
        "config": config.to_dict(),
        "features": features,
        "prediction": prediction_result,
        "data_quality": data_quality(reference, window, config),
    }


def compare(
    reference_columns: Mapping[str, np.ndarray | Sequence[Any]],
    current_columns: Mapping[str, np.ndarray | Sequence[Any]],
    config: DriftConfig | None = None,
    *,
    seed: int = 42,
) -> dict[str, Any]:
    """Compare two in-memory tables column by column: the baseline of the first, the window of the second."""
    config = config or DriftConfig()
    reference = Reference.from_baseline(baseline_of_columns(reference_columns, seed))
    window = Window(reference)
    add_columns(window, current_columns, config.chunk_rows)
    return evaluate(reference, window, config)


def drifted_names(result: Mapping[str, Any]) -> list[str]:
    return [name for name, feature in result["features"].items() if feature["drifted"]]
