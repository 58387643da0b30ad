"""The estimated performance of one check: the version's performance estimator (read beside the version, its sha256
verified), fed by the window's captured records, judged against the holdout with the check's tolerances, and set
beside the realised performance when labels have arrived (``mlops.monitoring.estimation`` does the arithmetic)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from mlops.errors import ArtifactMissing
from mlops.monitoring.config import MonitoringConfig
from mlops.monitoring.estimation import ESTIMATOR_FORMAT, EstimateFeeder
from mlops.storage import objects

CLASSIFIER_METRICS = ("accuracy", "f1")  # judged with max_metric_drop, as the realised ones
REGRESSOR_METRICS = ("mae",)  # judged with max_error_increase


def load_estimator(record: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """(the version's estimator document, "") or (None, why there is none)."""
    uri, digest = record.get("performance_estimator_uri"), record.get("performance_estimator_sha256")
    if not uri or not digest:
        return None, "the version has no performance estimator (registered before estimation, or it could not fit one)"
    try:
        document = objects.get_verified_json(uri, digest)
    except (ArtifactMissing, ClientError, ValueError) as exc:
        return None, f"the performance estimator {uri} cannot be read: {exc}"
    if not isinstance(document, dict) or document.get("format") != ESTIMATOR_FORMAT:
        return None, f"the performance estimator {uri} is not a {ESTIMATOR_FORMAT} document"
    return document, ""


def _problems(metrics: Mapping[str, Any], reference: Mapping[str, float], config: MonitoringConfig) -> list[str]:
    """What is degraded beyond the tolerance and beyond the window's sampling interval."""
    problems = []
    for name in CLASSIFIER_METRICS:
        estimate, holdout = metrics.get(name) or {}, reference.get(name)
        if estimate.get("value") is None or holdout is None:
            continue
        drop = holdout - estimate["value"]
        if drop > config.max_metric_drop and estimate["high"] is not None and estimate["high"] < holdout:
            problems.append(
                f"estimated {name} {estimate['value']:.4f} [{estimate['low']:.4f}, {estimate['high']:.4f}] is "
                f"{drop:.4f} below the holdout's {holdout:.4f}"
            )
    for name in REGRESSOR_METRICS:
        estimate, holdout = metrics.get(name) or {}, reference.get(name)
        if estimate.get("value") is None or not holdout:
            continue
        increase = estimate["value"] / holdout - 1
        if increase > config.max_error_increase and estimate["low"] > holdout:
            problems.append(
                f"estimated {name} {estimate['value']:.4g} [{estimate['low']:.4g}, {estimate['high']:.4g}] is "
                f"{increase:.0%} above the holdout's {holdout:.4g}"
            )
    return problems


def side_by_side(estimated: Mapping[str, Any], performance: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per metric: the estimate with its interval, the realised value from labels (when judged) and the holdout's."""
    live = performance.get("live") or {} if performance.get("status") in ("ok", "degraded") else {}
    rows = {}
    for name, estimate in (estimated.get("metrics") or {}).items():
        rows[name] = {
            "estimated": estimate["value"],
            "low": estimate["low"],
            "high": estimate["high"],
            "realised": live.get(name),
            "holdout": (estimated.get("reference") or {}).get(name),
        }
        if rows[name]["realised"] is not None and estimate["low"] is not None:
            rows[name]["realised_within_interval"] = bool(estimate["low"] <= live[name] <= estimate["high"])
    return rows


def judge_estimated(
    feeder: EstimateFeeder | None,
    estimator: Mapping[str, Any] | None,
    unavailable: str,
    performance: Mapping[str, Any],
    config: MonitoringConfig,
) -> dict[str, Any]:
    """The check's ``estimated_performance`` section (``degraded`` drives the alarm metric and a retraining)."""
    result: dict[str, Any] = {"degraded": False, "min_rows": config.min_estimated_rows, "rows": 0}
    if feeder is None or estimator is None:
        return {**result, "status": "unavailable", "reason": unavailable}
    calibration = estimator.get("calibration") or {}
    result |= {
        "method": estimator["method"],
        "calibration": calibration.get("method"),
        "rows": feeder.rows,
        "unusable_rows": feeder.unusable,
        "reference": estimator.get("reference") or {},
    }
    if feeder.rows < config.min_estimated_rows:
        why = f"{feeder.rows} rows with what the estimate needs, fewer than {config.min_estimated_rows}: not estimated"
        if feeder.unusable:
            why += f" ({feeder.unusable} captured rows without served probabilities or a prediction)"
        return {**result, "status": "insufficient_data", "reason": why}
    result |= feeder.estimate()
    if estimator["task"] == "regression":
        result["threshold"] = {"max_error_increase": config.max_error_increase}
    else:
        result["threshold"] = {"max_metric_drop": config.max_metric_drop}
    result["side_by_side"] = side_by_side(result, performance)
    problems = _problems(result["metrics"], result["reference"], config)
    if problems:
        return {**result, "status": "degraded", "degraded": True, "reason": "; ".join(problems)}
    return {**result, "status": "ok", "reason": "estimated metrics are within the tolerance of the holdout's"}
