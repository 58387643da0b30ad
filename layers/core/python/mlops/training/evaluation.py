"""Holdout metrics, candidate selection and the promotion gate."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sklearn
from sklearn import metrics as skm

from mlops.data.dataset import Schema
from mlops.records.steps import BaselineFloor, BootstrapInterval, FailedCandidate, GateDecision, TrainedCandidate

CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "f1", "roc_auc", "average_precision", "log_loss")
REGRESSION_METRICS = ("rmse", "mae", "r2")
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})
# Scores are differences of ratios (57/100 - 56/100 = 0.009999999999999898): compare with a tolerance.
FLOAT_TOLERANCE = 1e-12
DEFAULT_METRIC = {"classification": "f1", "regression": "r2"}


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def metrics_for(task: str) -> tuple[str, ...]:
    return CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS


def score(model: Any, features: np.ndarray, target: np.ndarray, schema: Schema) -> dict[str, float]:
    """All metrics of the task on one dataset. Binary F1/ROC AUC use the schema's positive class;
    multiclass uses macro F1 and one-vs-rest macro ROC AUC."""
    predictions = model.predict(features)
    if schema.task == "regression":
        return {
            "rmse": float(math.sqrt(skm.mean_squared_error(target, predictions))),
            "mae": float(skm.mean_absolute_error(target, predictions)),
            "r2": float(skm.r2_score(target, predictions)),
        }
    classes = list(model.classes_)
    probabilities = model.predict_proba(features)
    result = {
        "accuracy": float(skm.accuracy_score(target, predictions)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(target, predictions)),
    }
    if len(schema.classes or []) == 2:
        positive = schema.positive_class
        positive_probability = probabilities[:, classes.index(positive)]
        result["f1"] = float(skm.f1_score(target, predictions, pos_label=positive, average="binary"))
        result["roc_auc"] = float(skm.roc_auc_score(target == positive, positive_probability))
        result["average_precision"] = float(skm.average_precision_score(target == positive, positive_probability))
    else:
        result["f1"] = float(skm.f1_score(target, predictions, average="macro"))
        result["roc_auc"] = float(
            skm.roc_auc_score(target, probabilities, multi_class="ovr", average="macro", labels=classes)
        )
        indicators = np.asarray(target)[:, None] == np.asarray(classes, dtype=object)[None, :]
        result["average_precision"] = float(skm.average_precision_score(indicators, probabilities, average="macro"))
    result["log_loss"] = float(skm.log_loss(target, probabilities, labels=classes))
    return result


@dataclass
class GateConfig:
    metric: str
    min_score: float | None = None
    min_improvement: float = 0.001
    block_on_leakage: bool = False
    bootstrap: dict[str, Any] | None = None  # request.GateBootstrap's fields: resamples, seed, confidence, require

    @classmethod
    def from_request(cls, task: str, gate: dict[str, Any] | None) -> GateConfig:
        gate = dict(gate or {})
        metric = gate.pop("metric", DEFAULT_METRIC[task])
        config = cls(metric=metric, **gate)
        if config.metric not in metrics_for(task):
            raise ValueError(f"gate metric {metric!r} is not a {task} metric; choose one of {metrics_for(task)}")
        if config.min_improvement < 0:
            raise ValueError("gate min_improvement cannot be negative")
        return config


def gate(
    config: GateConfig,
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    champion_version: int | None,
    champion_problem: str | None = None,
    *,
    warnings: list[str] | None = None,
    champion_note: str | None = None,
    interval: BootstrapInterval | None = None,
    interval_problem: str | None = None,
    floor: BaselineFloor | None = None,
) -> GateDecision:
    """Promote only if the challenger clears the absolute threshold and beats the champion by the margin,
    both measured on the same holdout. Warnings (e.g. leakage) are recorded, and block only when configured.

    With ``floor`` (``mlops.training.baseline_floor``), the challenger must also beat the trivial baseline on every
    checked metric, with or without a champion.

    With ``config.bootstrap``, ``interval`` is the paired bootstrap of the improvement (``interval_problem`` says
    why there is none); it is recorded, and with ``require`` its lower bound must be above the margin too."""
    metric = config.metric
    value = challenger[metric]
    better = higher_is_better(metric)
    passed = True
    reasons = []
    if config.min_score is not None:
        clears = value >= config.min_score - FLOAT_TOLERANCE if better else value <= config.min_score + FLOAT_TOLERANCE
        relation = "≥" if better else "≤"
        reasons.append(
            f"{metric} {value:.4f} {'meets' if clears else 'fails'} the threshold {relation} {config.min_score}"
        )
        passed &= clears
    if floor is not None:
        reasons.extend(check.reason for check in floor.checks)
        passed &= floor.passed
    champion_score = None
    if champion_problem:
        reasons.append(f"champion v{champion_version} cannot be compared: {champion_problem}")
        passed = False
    elif champion is None:
        reasons.append("no champion in production: nothing to beat")
    else:
        champion_score = champion[metric]
        improvement = value - champion_score if better else champion_score - value
        beats = improvement >= config.min_improvement - FLOAT_TOLERANCE
        reasons.append(
            f"{metric} {value:.4f} vs champion v{champion_version} {champion_score:.4f}: improvement "
            f"{improvement:+.4f} {'meets' if beats else 'is below'} the minimum {config.min_improvement}"
        )
        passed &= beats
        if champion_note:
            reasons.append(champion_note)
        if config.bootstrap is not None:
            interval, noise_passes, reason = _noise_check(config, interval, interval_problem)
            reasons.append(reason)
            passed &= noise_passes
    warnings = list(warnings or [])
    if warnings and config.block_on_leakage:
        reasons.append(f"possible target leakage blocks promotion (gate.block_on_leakage): {'; '.join(warnings)}")
        passed = False
    return GateDecision(
        passed=passed,
        metric=metric,
        challenger_score=value,
        champion_score=champion_score,
        champion_version=champion_version,
        min_score=config.min_score,
        min_improvement=config.min_improvement,
        reasons=reasons,
        warnings=warnings,
        decision="promote" if passed else "reject",
        bootstrap=interval if config.bootstrap is not None and champion_score is not None else None,
        baseline=floor,
    )


def _noise_check(
    config: GateConfig, interval: BootstrapInterval | None, problem: str | None
) -> tuple[BootstrapInterval | None, bool, str]:
    """(the interval with its verdict, whether the gate may pass on it, the reason) for a gate with a bootstrap."""
    required = bool((config.bootstrap or {}).get("require", True))
    if interval is None:
        why = problem or "the champion's per-row outputs on this holdout are not available"
        if required:
            return None, False, f"the improvement's confidence interval could not be measured ({why}): held"
        return None, True, f"the improvement's confidence interval could not be measured ({why})"
    level = f"{interval.confidence:.0%}"
    bounds = f"[{interval.low:+.4f}, {interval.high:+.4f}]"
    described = (
        f"paired bootstrap ({interval.usable_resamples} resamples of {interval.rows} rows, seed {interval.seed}): "
        f"{level} interval of the {interval.metric} improvement {bounds}"
    )
    if not required:
        return interval.model_copy(update={"required": False, "passed": None}), True, described + " (recorded only)"
    above = interval.low > config.min_improvement
    verdict = (
        f"its lower bound is above the minimum {config.min_improvement}"
        if above
        else f"its lower bound is not above the minimum {config.min_improvement}: the gain is within the "
        "holdout's sampling noise"
    )
    return interval.model_copy(update={"required": True, "passed": above}), above, f"{described}; {verdict}"


def select_best(candidates: Sequence[TrainedCandidate | FailedCandidate], metric: str) -> TrainedCandidate:
    """The trained candidate with the best validation score; ties go to the earliest (a stable choice)."""
    trained = [c for c in candidates if isinstance(c, TrainedCandidate)]
    sign = 1 if higher_is_better(metric) else -1
    return max(trained, key=lambda c: (sign * c.validation_metrics[metric], -c.index))


# A feature that alone scores this well on validation is more likely a copy of the target than a signal.
LEAKAGE_MIN_SCORE = 0.99
LEAKAGE_MAX_ROWS = 20_000


def _single_feature_score(
    train: np.ndarray, train_y: np.ndarray, validation: np.ndarray, validation_y: np.ndarray, *, kind: str, task: str
) -> float:
    """Validation balanced accuracy (classification) or R² (regression) of one feature on its own: a shallow
    tree for numbers, a per-category lookup for categories."""
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor  # noqa: PLC0415

    if kind == "numeric":
        train_values = train.astype(np.float64).reshape(-1, 1)
        validation_values = validation.astype(np.float64).reshape(-1, 1)
        fill = np.nanmedian(train_values) if np.isfinite(train_values).any() else 0.0
        train_values = np.where(np.isnan(train_values), fill, train_values)
        validation_values = np.where(np.isnan(validation_values), fill, validation_values)
        tree = (DecisionTreeClassifier if task == "classification" else DecisionTreeRegressor)(
            max_depth=8, min_samples_leaf=2, random_state=0
        )
        predicted = tree.fit(train_values, train_y).predict(validation_values)
    elif task == "classification":
        by_category: dict[Any, list[Any]] = {}
        for value, label in zip(train, train_y, strict=True):
            by_category.setdefault(value, []).append(label)
        majority = {value: max(set(labels), key=labels.count) for value, labels in by_category.items()}
        overall = max(set(train_y.tolist()), key=train_y.tolist().count)
        predicted = np.array([majority.get(value, overall) for value in validation], dtype=object)
    else:
        sums: dict[Any, list[float]] = {}
        for value, number in zip(train, train_y, strict=True):
            sums.setdefault(value, []).append(float(number))
        means = {value: float(np.mean(numbers)) for value, numbers in sums.items()}
        overall_mean = float(np.mean(train_y))
        predicted = np.array([means.get(value, overall_mean) for value in validation])
    if task == "classification":
        return _balanced_accuracy(validation_y, predicted)
    return _r2(validation_y, predicted)


def _balanced_accuracy(truth: np.ndarray, predicted: np.ndarray) -> float:
    """scikit-learn's balanced accuracy (the mean recall of the classes present), without its per-call checks: the
    leakage scan scores every feature of a table thousands of columns wide."""
    recalls = [float(np.mean(predicted[truth == label] == label)) for label in np.unique(truth)]
    return float(np.mean(recalls)) if recalls else 0.0


def _r2(truth: np.ndarray, predicted: np.ndarray) -> float:
    truth = truth.astype(np.float64)
    residual = float(np.sum((truth - predicted) ** 2))
    total = float(np.sum((truth - truth.mean()) ** 2))
    if total == 0.0:
        return 1.0 if residual == 0.0 else 0.0
    return 1.0 - residual / total


MAX_LEAKAGE_WARNINGS = 20


def leakage_warnings(
    train_x: np.ndarray, train_y: np.ndarray, validation_x: np.ndarray, validation_y: np.ndarray, schema: Schema
) -> list[str]:
    """One warning per feature that alone predicts the target almost perfectly on validation."""
    rows = min(len(train_y), LEAKAGE_MAX_ROWS)
    if schema.task == "classification":  # integer labels once, not per feature: the scan visits every feature
        _, codes = np.unique(np.concatenate([train_y, validation_y]).astype(str), return_inverse=True)
        train_y, validation_y = codes[: len(train_y)], codes[len(train_y) :]
    warnings = []
    # the inputs are checked once here (NaN filled per feature below), not by scikit-learn per feature
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        for position, feature in enumerate(schema.features):
            single = _single_feature_score(
                train_x[:rows, position],
                train_y[:rows],
                validation_x[:, position],
                validation_y,
                kind=feature.kind,
                task=schema.task,
            )
            if single >= LEAKAGE_MIN_SCORE:
                measure = "balanced accuracy" if schema.task == "classification" else "R²"
                warnings.append(
                    f"possible target leakage: feature {feature.name!r} alone reaches validation {measure} {single:.3f}"
                )
    if len(warnings) > MAX_LEAKAGE_WARNINGS:
        # the gate report travels in the state and the version item: it names the first ones and counts the rest
        more = len(warnings) - MAX_LEAKAGE_WARNINGS
        warnings = [*warnings[:MAX_LEAKAGE_WARNINGS], f"possible target leakage: {more} more features alike"]
    return warnings
