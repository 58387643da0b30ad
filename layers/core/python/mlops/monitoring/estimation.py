"""Label-free performance estimation of a window of captured predictions, from the version's performance estimator
(a JSON document Evaluate fits on the holdout and Register stores beside the version; ``mlops.training.estimator``).

Classifiers: confidence-based performance estimation (CBPE). The served probabilities are calibrated with the curve
fitted on the holdout (isotonic, or Platt's sigmoid on a small holdout: the document records which); each row is then
correct with the calibrated probability of the class it was given, so the window's expected confusion matrix,
accuracy, F1 and ROC AUC follow. The sampling interval is the spread of the realised metrics over label sets drawn
from those probabilities (seeded): where a window's labels would fall if the calibration holds.

Regressors: direct loss estimation (DLE). A small gradient-boosted model of the absolute error (features and
prediction in, |error| out), fitted on the holdout and stored as its trees' arrays, is evaluated here with numpy: the
window's expected MAE is the mean of its outputs; the interval is the holdout's residual spread over the window's rows
and over the holdout's (the rows the loss model learned from).

Nothing here needs scikit-learn or executes anything from the document: curves and trees are arrays of numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from mlops.monitoring.feedback import class_label

ESTIMATOR_FORMAT = "mlops.performance_estimator.v1"
DRAWS = 400  # label sets drawn per window for the interval
DRAW_CHUNK = 25  # draws at once (memory: rows × chunk)
CONFIDENCE = 0.95
Z = 1.959964  # the normal quantile of CONFIDENCE, for DLE's interval


# ---- calibration ----------------------------------------------------------------------------------------------
def calibrate(curve: Mapping[str, Any], scores: np.ndarray) -> np.ndarray:
    """Calibrated probabilities of one class from its served scores (isotonic: the fitted step curve, interpolated
    as scikit-learn's IsotonicRegression does and clipped to its range; sigmoid: Platt's 1/(1+exp(a·logit+b)))."""
    if curve["method"] == "isotonic":
        return np.interp(scores, np.asarray(curve["x"], dtype=float), np.asarray(curve["y"], dtype=float))
    clipped = np.clip(scores, 1e-6, 1 - 1e-6)
    logit = np.log(clipped / (1 - clipped))
    return 1.0 / (1.0 + np.exp(curve["a"] * logit + curve["b"]))


def calibrated_matrix(calibration: Mapping[str, Any], probabilities: np.ndarray) -> np.ndarray:
    """Rows × classes calibrated probabilities (classes in ``calibration['classes']`` order). Binary: the positive
    class's curve, its complement for the other; multiclass: one-vs-rest curves, renormalised per row."""
    classes = calibration["classes"]
    curves = calibration["curves"]
    if len(classes) == 2:
        positive = classes.index(calibration["positive_class"])
        calibrated = np.empty_like(probabilities)
        calibrated[:, positive] = calibrate(curves[classes[positive]], probabilities[:, positive])
        calibrated[:, 1 - positive] = 1 - calibrated[:, positive]
        return calibrated
    calibrated = np.column_stack([calibrate(curves[c], probabilities[:, i]) for i, c in enumerate(classes)])
    totals = calibrated.sum(axis=1, keepdims=True)
    uniform = np.full_like(calibrated, 1.0 / len(classes))
    return np.where(totals > 0, calibrated / np.where(totals > 0, totals, 1), uniform)


# ---- CBPE -----------------------------------------------------------------------------------------------------
def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denominator = 2 * tp + fp + fn
    return np.where(denominator > 0, 2 * tp / np.where(denominator > 0, denominator, 1), 0.0)


def _auc_from_ranks(ranks: np.ndarray, positives: np.ndarray) -> np.ndarray:
    """ROC AUC of each label set (draws × rows booleans) against fixed score ranks (Mann-Whitney)."""
    count = positives.sum(axis=1).astype(float)
    negatives = positives.shape[1] - count
    rank_sum = positives.astype(float) @ ranks
    valid = (count > 0) & (negatives > 0)
    return np.where(valid, (rank_sum - count * (count + 1) / 2) / np.where(valid, count * negatives, 1), np.nan)


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1-based ranks of the scores, ties sharing their mean rank."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=float)
    ranks[order] = np.arange(1, len(scores) + 1)
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    if len(counts) < len(scores):  # ties: the mean rank of each group
        ranks = np.bincount(inverse, weights=ranks)[inverse] / counts[inverse]
    return ranks


def _interval(values: np.ndarray) -> list[float] | None:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    tail = (1 - CONFIDENCE) / 2 * 100
    return [float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))]


def _metric(value: float | None, interval: list[float] | None) -> dict[str, Any]:
    value = None if value is None or not math.isfinite(value) else float(value)
    return {"value": value, "low": interval[0] if interval else None, "high": interval[1] if interval else None}


def curve_draws(curve: Mapping[str, Any], scores: np.ndarray) -> Any:
    """For an isotonic curve that records its steps' holdout rows: a sampler of plausible curves (each step's value
    moved by its binomial standard error, clipped to [0, 1]) applied to the scores, so the interval also holds the
    calibration's own uncertainty, which a shifted window weighs differently from the holdout. None otherwise."""
    if curve.get("method") != "isotonic" or "step_rows" not in curve:
        return None
    x, y = np.asarray(curve["x"], dtype=float), np.asarray(curve["y"], dtype=float)
    steps, rows = np.asarray(curve["step"], dtype=int), np.asarray(curve["step_rows"], dtype=float)
    step_value = np.zeros(len(rows))
    step_value[steps] = y
    error = np.sqrt(step_value * (1 - step_value) / np.maximum(rows, 1))

    def sample(rng: np.random.Generator, count: int) -> np.ndarray:
        moved = np.clip(y + (rng.normal(size=(count, len(rows))) * error)[:, steps], 0.0, 1.0)
        return np.stack([np.interp(scores, x, values) for values in moved])

    return sample


def binary_estimate(
    calibrated_positive: np.ndarray,
    predicted_positive: np.ndarray,
    *,
    scores: np.ndarray | None = None,
    seed: int = 0,
    curves: Any = None,
) -> dict:
    """CBPE of a binary classifier: the expected confusion matrix, accuracy, F1 and ROC AUC of the window, each with
    its sampling interval (labels drawn from the calibrated probabilities, of curves drawn by ``curves`` if given)."""
    p, hat = calibrated_positive.astype(float), predicted_positive.astype(bool)
    tp, fp = float(p[hat].sum()), float((1 - p[hat]).sum())
    fn, tn = float(p[~hat].sum()), float((1 - p[~hat]).sum())
    rows = len(p)
    expected_positives = float(p.sum())
    positives_squared = float(p @ (1 - p)) + expected_positives**2  # E[P²] of the window's positive count
    # AUC ranks the rows by the served score (the calibrated one orders them alike but ties a step's rows)
    ranks = _ranks(scores if scores is not None else p)
    # expected AUC (Mann-Whitney): E[rank sum of positives − P(P+1)/2] / E[P·N], under the calibrated labels
    pairs = rows * expected_positives - positives_squared
    auc = float(p @ ranks - (positives_squared + expected_positives) / 2) / pairs if pairs > 0 else math.nan
    draws: dict[str, list[np.ndarray]] = {"accuracy": [], "f1": [], "roc_auc": []}
    rng = np.random.default_rng(seed)
    for start in range(0, DRAWS, DRAW_CHUNK):
        count = min(DRAW_CHUNK, DRAWS - start)
        labels = rng.random((count, rows)) < (curves(rng, count) if curves is not None else p)
        d_tp = (labels & hat).sum(axis=1)
        d_fp = (~labels & hat).sum(axis=1)
        d_fn = (labels & ~hat).sum(axis=1)
        draws["accuracy"].append(((labels == hat).sum(axis=1)) / rows)
        draws["f1"].append(_f1(d_tp, d_fp, d_fn))
        draws["roc_auc"].append(_auc_from_ranks(ranks, labels))
    spread = {name: _interval(np.concatenate(values)) for name, values in draws.items()}
    return {
        "confusion_matrix": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "metrics": {
            "accuracy": _metric((tp + tn) / rows, spread["accuracy"]),
            "f1": _metric(float(_f1(np.array(tp), np.array(fp), np.array(fn))), spread["f1"]),
            "roc_auc": _metric(auc, spread["roc_auc"]),
        },
    }


def multiclass_estimate(calibrated: np.ndarray, predicted: np.ndarray, classes: list[str], *, seed: int = 0) -> dict:
    """CBPE of a multiclass classifier: expected confusion matrix (predicted × actual), accuracy and macro F1."""
    rows, count = calibrated.shape
    one_hot = np.zeros_like(calibrated)
    one_hot[np.arange(rows), predicted] = 1
    confusion = one_hot.T @ calibrated  # [predicted, actual]
    tp = np.diag(confusion)
    f1 = float(np.mean(_f1(tp, confusion.sum(axis=1) - tp, confusion.sum(axis=0) - tp)))
    cumulative = np.cumsum(calibrated, axis=1)
    rng = np.random.default_rng(seed)
    accuracies, f1s = [], []
    for start in range(0, DRAWS, DRAW_CHUNK):
        u = rng.random((min(DRAW_CHUNK, DRAWS - start), rows, 1))
        labels = np.minimum((u > cumulative[None, :, :]).sum(axis=2), count - 1)
        correct = labels == predicted[None, :]
        accuracies.append(correct.mean(axis=1))
        per_class = []
        for c in range(count):
            d_tp = (correct & (predicted[None, :] == c)).sum(axis=1)
            per_class.append(_f1(d_tp, (predicted == c).sum() - d_tp, (labels == c).sum(axis=1) - d_tp))
        f1s.append(np.mean(per_class, axis=0))
    return {
        "confusion_matrix": {"classes": classes, "predicted_by_actual": confusion.tolist()},
        "metrics": {
            "accuracy": _metric(float(tp.sum() / rows), _interval(np.concatenate(accuracies))),
            "f1": _metric(f1, _interval(np.concatenate(f1s))),
        },
    }


# ---- DLE ------------------------------------------------------------------------------------------------------
def predict_trees(model: Mapping[str, Any], matrix: np.ndarray) -> np.ndarray:
    """The exported gradient-boosted loss model's output for each row (NaN follows each split's missing side)."""
    total = np.full(matrix.shape[0], float(model["baseline"]))
    rows = np.arange(matrix.shape[0])
    for tree in model["trees"]:
        feature = np.asarray(tree["feature"], dtype=int)
        threshold = np.asarray(tree["threshold"], dtype=float)
        missing_left = np.asarray(tree["missing_left"], dtype=bool)
        left, right = np.asarray(tree["left"], dtype=int), np.asarray(tree["right"], dtype=int)
        leaf, value = np.asarray(tree["leaf"], dtype=bool), np.asarray(tree["value"], dtype=float)
        node = np.zeros(matrix.shape[0], dtype=int)
        for _ in range(int(tree["depth"]) + 1):
            active = ~leaf[node]
            if not active.any():
                break
            x = matrix[rows, feature[node]]
            go_left = np.where(np.isnan(x), missing_left[node], x <= threshold[node])
            node = np.where(active, np.where(go_left, left[node], right[node]), node)
        total += value[node]
    return total


def regression_estimate(estimator: Mapping[str, Any], matrix: np.ndarray) -> dict:
    """DLE of a regressor: the window's expected MAE (mean of the loss model's outputs) with its interval."""
    expected = np.maximum(predict_trees(estimator["loss_model"], matrix), 0.0)
    mae = float(expected.mean())
    # the window's own sampling, and the holdout's the loss model learned from (its level is only as sure as that)
    spread = float(estimator["residual_sd"])
    half = Z * spread * math.sqrt(1 / len(expected) + 1 / max(int(estimator.get("rows") or 0), 1))
    return {"metrics": {"mae": _metric(mae, [max(mae - half, 0.0), mae + half])}}


# ---- the window's records -------------------------------------------------------------------------------------
def _number(value: Any) -> float:
    """A captured value as a float (numbers, and text that parses as one); NaN otherwise (missing)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return math.nan
    try:
        number = float(value)
    except ValueError:
        return math.nan
    return number if math.isfinite(number) else math.nan


class EstimateFeeder:
    """Collects what an estimate needs from the window's captured records: served probabilities and labels
    (classifier), or the loss model's features and the prediction (regressor)."""

    def __init__(self, estimator: Mapping[str, Any]) -> None:
        self.estimator = estimator
        self.task = estimator["task"]
        self.chunks: list[np.ndarray] = []
        self.predicted: list[int] = []
        self.rows = 0
        self.unusable = 0  # rows without the probabilities (or prediction) an estimate needs

    def add(self, records: list[dict[str, Any]], features: list[dict[str, Any]]) -> None:
        if self.task == "regression":
            names = self.estimator["loss_model"]["features"][:-1]
            usable = [
                (r, f) for r, f in zip(records, features, strict=True) if math.isfinite(_number(r.get("prediction")))
            ]
            self.unusable += len(records) - len(usable)
            if usable:
                self.chunks.append(
                    np.array([[_number(f.get(n)) for n in names] + [_number(r["prediction"])] for r, f in usable])
                )
            self.rows += len(usable)
            return
        classes = self.estimator["calibration"]["classes"]
        index = {label: i for i, label in enumerate(classes)}
        block = []
        for record in records:
            by_class, label = record.get("probabilities"), index.get(class_label(record.get("prediction")))
            if not isinstance(by_class, dict) or label is None:
                self.unusable += 1
                continue
            values = [_number(by_class.get(c)) for c in classes]
            if any(math.isnan(v) for v in values):
                self.unusable += 1
                continue
            block.append(values)
            self.predicted.append(label)
        if block:
            self.chunks.append(np.array(block))
            self.rows += len(block)

    def estimate(self, *, seed: int = 0) -> dict[str, Any]:
        matrix = np.concatenate(self.chunks) if self.chunks else np.empty((0, 0))
        if self.task == "regression":
            return regression_estimate(self.estimator, matrix)
        calibration = self.estimator["calibration"]
        calibrated = calibrated_matrix(calibration, matrix)
        predicted = np.array(self.predicted, dtype=int)
        classes = calibration["classes"]
        if len(classes) == 2:
            positive = classes.index(calibration["positive_class"])
            curves = curve_draws(calibration["curves"][classes[positive]], matrix[:, positive])
            return binary_estimate(
                calibrated[:, positive], predicted == positive, scores=matrix[:, positive], seed=seed, curves=curves
            )
        return multiclass_estimate(calibrated, predicted, classes, seed=seed)
