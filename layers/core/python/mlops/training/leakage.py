"""The leakage scan: a feature that alone predicts the target almost perfectly on validation is more likely a copy of
the target than a signal. Its warnings go into the gate's report (and block the gate when the request asks)."""

from __future__ import annotations

from typing import Any

import numpy as np
import sklearn

from mlops.data.dataset import Schema

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
