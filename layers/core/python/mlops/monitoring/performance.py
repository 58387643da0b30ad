"""Live performance of the production version: its captured predictions joined to the ground truth received
for them, measured and judged against the version's holdout metrics."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from mlops.monitoring.config import MonitoringConfig
from mlops.monitoring.feedback import class_label, is_finite_number


def live_metrics(joined: list[tuple[Any, Any]], task: str, classes: list[str] | None, positive: str | None) -> dict:
    if task == "regression":
        pairs = [(float(p), float(a)) for p, a in joined if isinstance(p, int | float) and is_finite_number(a)]
        if not pairs:
            return {}
        errors = np.array([p - a for p, a in pairs])
        return {"rmse": float(math.sqrt(np.mean(errors**2))), "mae": float(np.mean(np.abs(errors)))}
    predicted = np.array([class_label(p) for p, _ in joined], dtype=object)
    actual = np.array([class_label(a) for _, a in joined], dtype=object)
    if predicted.size == 0:
        return {}
    result = {"accuracy": float(np.mean(predicted == actual))}
    if classes and len(classes) == 2 and positive is not None:
        result["f1"] = f1_score(predicted, actual, positive)
    else:
        labels = sorted(set(classes or []) | set(actual.tolist()))
        result["f1"] = float(np.mean([f1_score(predicted, actual, label) for label in labels])) if labels else 0.0
    return result


def f1_score(predicted: np.ndarray, actual: np.ndarray, label: str) -> float:
    true_positive = float(np.sum((predicted == label) & (actual == label)))
    predicted_positive = float(np.sum(predicted == label))
    actual_positive = float(np.sum(actual == label))
    denominator = predicted_positive + actual_positive
    return 2 * true_positive / denominator if denominator else 0.0


def judge_performance(
    joined: list[tuple[Any, Any]], record: Mapping[str, Any], config: MonitoringConfig
) -> dict[str, Any]:
    task = record.get("task") or (record.get("schema") or {}).get("task", "classification")
    schema = record.get("schema") or {}
    holdout = {k: v for k, v in (record.get("metrics") or {}).items() if k in ("accuracy", "f1", "rmse", "mae")}
    live = live_metrics(joined, task, schema.get("classes"), schema.get("positive_class"))
    result: dict[str, Any] = {
        "labelled_rows": len(joined),
        "min_labelled_rows": config.min_labelled_rows,
        "holdout": holdout,
        "live": live,
        "degraded": False,
        "window_hours": config.performance_window_hours,
    }
    if not joined:
        return {**result, "status": "no_labels", "reason": "no ground truth received for captured predictions"}
    if len(joined) < config.min_labelled_rows:
        return {
            **result,
            "status": "insufficient_labels",
            "reason": f"{len(joined)} labelled predictions, fewer than {config.min_labelled_rows}: not judged",
        }
    problems = []
    if task == "regression":
        result["threshold"] = {"max_error_increase": config.max_error_increase}
        for name in ("rmse", "mae"):
            if name in live and name in holdout and holdout[name] > 0:
                increase = live[name] / holdout[name] - 1
                if increase > config.max_error_increase:
                    problems.append(
                        f"live {name} {live[name]:.4g} is {increase:.0%} above the holdout's {holdout[name]:.4g}"
                    )
    else:
        result["threshold"] = {"max_metric_drop": config.max_metric_drop}
        for name in ("accuracy", "f1"):
            if name in live and name in holdout:
                drop = holdout[name] - live[name]
                if drop > config.max_metric_drop:
                    problems.append(
                        f"live {name} {live[name]:.4f} is {drop:.4f} below the holdout's {holdout[name]:.4f}"
                    )
    if problems:
        return {**result, "status": "degraded", "degraded": True, "reason": "; ".join(problems)}
    return {**result, "status": "ok", "reason": "live metrics are within the tolerance of the holdout's"}
