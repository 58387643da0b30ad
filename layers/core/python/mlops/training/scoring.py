"""The holdout metrics of a model and which way each points: one definition for the gate, the floor, the search and
the reproduction."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn import metrics as skm

from mlops.data.dataset import Schema

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
