"""Holdout metrics, candidate selection and the promotion gate."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn import metrics as skm

from mlops.data.dataset import Schema

CLASSIFICATION_METRICS = ("accuracy", "f1", "roc_auc", "log_loss")
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
    result = {"accuracy": float(skm.accuracy_score(target, predictions))}
    if len(schema.classes or []) == 2:
        positive = schema.positive_class
        result["f1"] = float(skm.f1_score(target, predictions, pos_label=positive, average="binary"))
        result["roc_auc"] = float(skm.roc_auc_score(target == positive, probabilities[:, classes.index(positive)]))
    else:
        result["f1"] = float(skm.f1_score(target, predictions, average="macro"))
        result["roc_auc"] = float(
            skm.roc_auc_score(target, probabilities, multi_class="ovr", average="macro", labels=classes)
        )
    result["log_loss"] = float(skm.log_loss(target, probabilities, labels=classes))
    return result


@dataclass
class GateConfig:
    metric: str
    min_score: float | None = None
    min_improvement: float = 0.001

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


@dataclass
class GateDecision:
    passed: bool
    metric: str
    challenger_score: float
    champion_score: float | None
    champion_version: int | None
    min_score: float | None
    min_improvement: float
    reasons: list[str] = field(default_factory=list)

    @property
    def decision(self) -> str:
        return "promote" if self.passed else "reject"

    def to_dict(self) -> dict:
        return {**asdict(self), "decision": self.decision}


def gate(
    config: GateConfig,
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    champion_version: int | None,
    champion_problem: str | None = None,
) -> GateDecision:
    """Promote only if the challenger clears the absolute threshold and beats the champion by the margin,
    both measured on the same holdout."""
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
    return GateDecision(
        passed, metric, value, champion_score, champion_version, config.min_score, config.min_improvement, reasons
    )


def select_best(candidates: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """The trained candidate with the best validation score; ties go to the earliest (a stable choice)."""
    trained = [c for c in candidates if c.get("status") == "trained"]
    sign = 1 if higher_is_better(metric) else -1
    return max(trained, key=lambda c: (sign * c["validation_metrics"][metric], -c["index"]))
