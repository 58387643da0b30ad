"""The version's performance estimator, fitted on the holdout by Evaluate and stored beside the version by Register:
what lets the drift check estimate a window's performance before any label arrives (``mlops.monitoring.estimation``
applies it with numpy alone).

Classifiers (CBPE): the holdout's predicted probabilities are calibrated against its labels, with scikit-learn's
isotonic regression (PAV) when the holdout has at least ``ISOTONIC_MIN_ROWS`` rows, Platt's sigmoid (a one-feature
``LogisticRegression`` on the log-odds) below that, where isotonic steps overfit; one curve for a binary model's
positive class, one-vs-rest curves for a multiclass one. The document records the method and the curve's numbers.

Regressors (DLE): a small ``HistGradientBoostingRegressor`` learns the absolute error from the numeric features
and the prediction on the holdout; its trees are exported as arrays (split feature, threshold, missing side,
children, leaf values), so loading it executes nothing. Categorical features are not inputs of the loss model.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mlops.data.dataset import Schema
from mlops.monitoring.estimation import ESTIMATOR_FORMAT

ISOTONIC_MIN_ROWS = 1000
BIN_ROWS = 100  # holdout rows per point of an isotonic curve
MIN_ROWS = 50  # a holdout smaller than this fits no estimator
LOSS_MODEL = {"max_iter": 60, "max_depth": 3, "learning_rate": 0.1, "min_samples_leaf": 20, "l2_regularization": 1.0}


def _curve(scores: np.ndarray, outcomes: np.ndarray, method: str) -> dict[str, Any]:
    if method == "isotonic":
        from sklearn.isotonic import isotonic_regression  # noqa: PLC0415 - training-only dependency

        # isotonic over quantile bins of BIN_ROWS holdout rows, not over single rows: PAV on single rows makes
        # noisy extreme steps (0 and 1 at the ends), which inflate an expected accuracy (max(p, 1 - p) is convex)
        order = np.argsort(scores, kind="stable")
        bins = np.array_split(order, max(len(scores) // BIN_ROWS, 2))
        means = np.array([scores[b].mean() for b in bins])
        x = np.unique(means)  # bins of one score value (a saturated model) merge
        group = np.searchsorted(x, means)
        weight = np.bincount(group, weights=[len(b) for b in bins])
        rate = np.bincount(group, weights=[outcomes[b].sum() for b in bins]) / weight
        y = isotonic_regression(rate, sample_weight=weight, y_min=0.0, y_max=1.0, increasing=True)
        # each point's step of the curve, and how many holdout rows each step averages: the curve's own uncertainty
        steps = np.concatenate([[0], np.cumsum(np.diff(y) != 0)]).astype(int)
        rows = np.bincount(steps, weights=weight).astype(int)
        return {
            "method": "isotonic",
            "x": x.tolist(),
            "y": y.tolist(),
            "step": steps.tolist(),
            "step_rows": rows.tolist(),
        }
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    clipped = np.clip(scores, 1e-6, 1 - 1e-6)
    logit = np.log(clipped / (1 - clipped)).reshape(-1, 1)
    fitted = LogisticRegression(C=1e4).fit(logit, outcomes.astype(int))
    return {"method": "sigmoid", "a": -float(fitted.coef_[0, 0]), "b": -float(fitted.intercept_[0])}


def classifier_estimator(
    probabilities: np.ndarray, target: np.ndarray, classes: list[str], positive: str | None, reference: dict
) -> dict[str, Any]:
    """The CBPE document of a classifier from its holdout probabilities (columns in ``classes`` order)."""
    rows = len(target)
    method = "isotonic" if rows >= ISOTONIC_MIN_ROWS else "sigmoid"
    labels = np.asarray([str(value) for value in target], dtype=object)
    fitted_classes = [positive] if len(classes) == 2 else classes
    curves = {c: _curve(probabilities[:, classes.index(c)], labels == c, method) for c in fitted_classes}
    return {
        "format": ESTIMATOR_FORMAT,
        "task": "classification",
        "method": "cbpe",
        "calibration": {
            "method": method,
            "fitted_with": "sklearn.isotonic.isotonic_regression (PAV over 100-row bins)"
            if method == "isotonic"
            else "sklearn.linear_model.LogisticRegression (Platt)",
            "fitted_on": "holdout",
            "rows": rows,
            "classes": classes,
            "positive_class": positive if len(classes) == 2 else None,
            "curves": curves,
        },
        "reference": {k: reference[k] for k in ("accuracy", "f1", "roc_auc") if k in reference},
    }


def _numbers(column: np.ndarray) -> np.ndarray:
    out = np.full(len(column), np.nan)
    for i, value in enumerate(column):
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            out[i] = float(value)
    return out


def export_trees(model: Any) -> dict[str, Any]:
    """A fitted single-output HistGradientBoostingRegressor as arrays (numeric splits only)."""
    trees = []
    for (predictor,) in model._predictors:  # noqa: SLF001 - the fitted trees have no public accessor
        nodes = predictor.nodes
        if nodes["is_categorical"].any():
            raise ValueError("the loss model has categorical splits; only numeric ones are exported")
        trees.append(
            {
                "feature": nodes["feature_idx"].astype(int).tolist(),
                "threshold": nodes["num_threshold"].astype(float).tolist(),
                "missing_left": nodes["missing_go_to_left"].astype(bool).tolist(),
                "left": nodes["left"].astype(int).tolist(),
                "right": nodes["right"].astype(int).tolist(),
                "leaf": nodes["is_leaf"].astype(bool).tolist(),
                "value": nodes["value"].astype(float).tolist(),
                "depth": int(nodes["depth"].max()),
            }
        )
    return {"baseline": float(np.ravel(model._baseline_prediction)[0]), "trees": trees}  # noqa: SLF001


def regressor_estimator(
    features: np.ndarray | None,
    names: list[str],
    predictions: np.ndarray,
    target: np.ndarray,
    reference: dict,
    *,
    seed: int,
) -> dict[str, Any]:
    """The DLE document of a regressor: its loss model on the holdout (numeric features + prediction → |error|)."""
    from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: PLC0415
    from sklearn.model_selection import cross_val_predict  # noqa: PLC0415
    from threadpoolctl import threadpool_limits  # noqa: PLC0415 - scikit-learn's own dependency

    matrix = np.column_stack([features, predictions]) if names else predictions.reshape(-1, 1)
    matrix = matrix.astype(float)
    errors = np.abs(target.astype(float) - predictions.astype(float))
    model = HistGradientBoostingRegressor(**LOSS_MODEL, early_stopping=False, random_state=seed)
    # the interval's spread: how far a row's absolute error strays from the loss model's expectation, out of fold
    # one thread: the fit is small, and OpenMP threads contending for a shared or small CPU cost far more than it
    with threadpool_limits(limits=1, user_api="openmp"):
        out_of_fold = cross_val_predict(model, matrix, errors, cv=2)
        model.fit(matrix, errors)
    loss_model = {"kind": "hist_gradient_boosting", "target": "absolute_error", "features": [*names, "prediction"]}
    loss_model |= export_trees(model)
    return {
        "format": ESTIMATOR_FORMAT,
        "task": "regression",
        "method": "dle",
        "loss_model": loss_model,
        "fitted_on": "holdout",
        "rows": len(errors),
        "residual_sd": float(np.std(errors - out_of_fold)),
        "reference": {"mae": float(reference.get("mae", float(errors.mean())))},
    }


def fit_estimator(
    model: Any, features: np.ndarray, target: np.ndarray, schema: Schema, reference: dict[str, float], *, seed: int
) -> tuple[dict[str, Any] | None, str]:
    """(the estimator document, "") or (None, why none was fitted) for the winner on the holdout."""
    if len(target) < MIN_ROWS:
        return None, f"the holdout has {len(target)} rows, fewer than {MIN_ROWS}"
    if schema.task == "regression":
        numeric = [i for i, f in enumerate(schema.features) if f.kind == "numeric"]
        names = [schema.features[i].name for i in numeric]
        columns = np.column_stack([_numbers(features[:, i]) for i in numeric]) if numeric else None
        return regressor_estimator(columns, names, model.predict(features), target, reference, seed=seed), ""
    if not hasattr(model, "predict_proba"):
        return None, "the model gives no probabilities"
    classes = [str(c) for c in model.classes_]
    if len({str(v) for v in target}) < 2:
        return None, "the holdout has one class only"
    document = classifier_estimator(model.predict_proba(features), target, classes, schema.positive_class, reference)
    return document, ""
