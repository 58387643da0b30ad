"""A gate that knows its noise: the paired bootstrap of the challenger's improvement over the champion.

Both models are scored on the same resamples of the same holdout rows, so the interval measures how much the
improvement depends on which rows happened to be in the holdout (the pairing cancels what both models get right or
wrong together). One ``(resamples, rows)`` index matrix is drawn with ``numpy.random.default_rng(seed)`` (in chunks of
whole resamples, so a large holdout never holds it all at once); each metric
is computed for every resample at once from per-row terms (accuracy, balanced accuracy, F1, log loss, RMSE, MAE, R²
by sums over the index matrix; ROC AUC by rank sums, ties averaged, as scikit-learn's). Average precision has no
such form: scikit-learn is called once per resample.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata

from mlops.records.gate import BootstrapInterval

LOG_LOSS_EPSILON = np.finfo(np.float64).eps  # scikit-learn clips probabilities the same way


@dataclass(frozen=True)
class Outputs:
    """One model's outputs on the holdout rows: labels (or values) and, for classifiers, probabilities whose columns
    follow ``classes``."""

    labels: np.ndarray
    probabilities: np.ndarray | None = None
    classes: tuple[Any, ...] = ()


def model_outputs(model: Any, features: Any, task: str) -> Outputs:
    """A model's per-row outputs on the holdout, as the paired bootstrap reads them."""
    labels = np.asarray(model.predict(features))
    if task == "regression":
        return Outputs(labels=labels.astype(np.float64))
    return Outputs(
        labels=labels.astype(object),
        probabilities=np.asarray(model.predict_proba(features), dtype=np.float64),
        classes=tuple(model.classes_),
    )


MAX_INDICES_PER_CHUNK = 4_000_000  # resamples are drawn and scored in chunks of at most this many row indices


def resample_chunks(rows: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """The ``(resamples, rows)`` matrix of row indices, drawn with replacement from ``default_rng(seed)``, in chunks
    of whole resamples (a large holdout never holds every index at once); the same seed gives the same chunks."""
    generator = np.random.default_rng(seed)
    per_chunk = max(1, MAX_INDICES_PER_CHUNK // rows)
    for start in range(0, resamples, per_chunk):
        yield generator.integers(0, rows, size=(min(per_chunk, resamples - start), rows))


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros_like(denominator, dtype=float), where=denominator > 0)


def _counts(mask: np.ndarray, index: np.ndarray) -> np.ndarray:
    """How many of each resample's rows have ``mask`` set (one vector per resample)."""
    return mask.astype(np.float64)[index].sum(axis=1)


def _binary_auc(positive: np.ndarray, scores: np.ndarray, index: np.ndarray) -> np.ndarray:
    """ROC AUC of every resample by the rank-sum (Mann-Whitney) form; NaN where a resample has one class only."""
    ranks = rankdata(scores[index], axis=1)  # average ranks for ties, as scikit-learn's AUC counts them
    is_positive = positive[index]
    n_positive = is_positive.sum(axis=1).astype(np.float64)
    n_negative = index.shape[1] - n_positive
    rank_sum = np.where(is_positive, ranks, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rank_sum - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative)


def _classification(
    metric: str, target: np.ndarray, outputs: Outputs, index: np.ndarray, *, classes: list[Any], positive: Any
) -> np.ndarray:
    if metric in ("accuracy", "balanced_accuracy", "f1"):
        return _from_labels(metric, target, outputs.labels, index, classes=classes, positive=positive)
    return _from_probabilities(metric, target, outputs, index, classes=classes, positive=positive)


def _from_labels(
    metric: str, target: np.ndarray, labels: np.ndarray, index: np.ndarray, *, classes: list[Any], positive: Any
) -> np.ndarray:
    if metric == "accuracy":
        return (labels == target).astype(np.float64)[index].mean(axis=1)
    if metric == "balanced_accuracy":
        recalls = []
        for label in classes:
            support = _counts(target == label, index)
            hits = _counts((target == label) & (labels == label), index)
            with np.errstate(invalid="ignore", divide="ignore"):
                recalls.append(np.where(support > 0, hits / support, np.nan))
        return np.nanmean(np.vstack(recalls), axis=0)  # over the classes each resample holds, as scikit-learn
    if metric == "f1":
        labels_for_f1 = [positive] if len(classes) == 2 else classes
        scores = [
            _f1(
                _counts((labels == label) & (target == label), index),
                _counts((labels == label) & (target != label), index),
                _counts((labels != label) & (target == label), index),
            )
            for label in labels_for_f1
        ]
        return np.mean(np.vstack(scores), axis=0)
    raise ValueError(f"no bootstrap for metric {metric!r}")


def _from_probabilities(
    metric: str, target: np.ndarray, outputs: Outputs, index: np.ndarray, *, classes: list[Any], positive: Any
) -> np.ndarray:
    probabilities = outputs.probabilities
    if probabilities is None:
        raise ValueError(f"{metric} needs probabilities")
    column = {label: position for position, label in enumerate(outputs.classes)}
    if metric == "log_loss":
        clipped = np.clip(probabilities, LOG_LOSS_EPSILON, 1 - LOG_LOSS_EPSILON)
        clipped = clipped / clipped.sum(axis=1, keepdims=True)
        true_column = np.array([column[label] for label in target])
        losses = -np.log(clipped[np.arange(len(target)), true_column])
        return losses[index].mean(axis=1)
    if metric == "roc_auc":
        if len(classes) == 2:
            return _binary_auc(target == positive, probabilities[:, column[positive]], index)
        per_class = [_binary_auc(target == label, probabilities[:, column[label]], index) for label in classes]
        return np.mean(np.vstack(per_class), axis=0)  # one-vs-rest, macro
    if metric == "average_precision":
        from sklearn.metrics import average_precision_score  # noqa: PLC0415 - no vectorised form

        if len(classes) == 2:
            truth, scores = target == positive, probabilities[:, column[positive]]
        else:
            truth = np.asarray(target)[:, None] == np.asarray(classes, dtype=object)[None, :]
            scores = probabilities[:, [column[label] for label in classes]]
        return np.array([average_precision_score(truth[rows], scores[rows], average="macro") for rows in index])
    raise ValueError(f"no bootstrap for metric {metric!r}")


def _regression(metric: str, target: np.ndarray, outputs: Outputs, index: np.ndarray) -> np.ndarray:
    errors = target - outputs.labels.astype(np.float64)
    if metric == "rmse":
        return np.sqrt((errors**2)[index].mean(axis=1))
    if metric == "mae":
        return np.abs(errors)[index].mean(axis=1)
    if metric == "r2":
        sampled = target[index]
        total = ((sampled - sampled.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        residual = (errors**2)[index].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, 1 - residual / total, np.nan)
    raise ValueError(f"no bootstrap for metric {metric!r}")


def metric_per_resample(
    metric: str,
    task: str,
    target: np.ndarray,
    outputs: Outputs,
    index: np.ndarray,
    *,
    classes: list[Any] | None = None,
    positive: Any = None,
) -> np.ndarray:
    """The metric of ``outputs`` on every resample (a row of ``index``): one value per resample."""
    if task == "regression":
        return _regression(metric, np.asarray(target, dtype=np.float64), outputs, index)
    return _classification(
        metric, np.asarray(target, dtype=object), outputs, index, classes=list(classes or []), positive=positive
    )


def improvement_interval(
    metric: str,
    task: str,
    target: np.ndarray,
    challenger: Outputs,
    champion: Outputs,
    *,
    higher_is_better: bool,
    resamples: int,
    seed: int,
    confidence: float,
    classes: list[Any] | None = None,
    positive: Any = None,
) -> BootstrapInterval:
    """The paired bootstrap interval of the challenger's improvement (positive: better, whichever way the metric
    points) over the champion, on the same resampled rows."""
    target = np.asarray(target)
    rows = len(target)
    identity = np.arange(rows)[None, :]
    sign = 1.0 if higher_is_better else -1.0

    def improvement(rows_index: np.ndarray) -> np.ndarray:
        kwargs = {"classes": classes, "positive": positive}
        theirs = metric_per_resample(metric, task, target, challenger, rows_index, **kwargs)
        ours = metric_per_resample(metric, task, target, champion, rows_index, **kwargs)
        return sign * (theirs - ours)

    differences = np.concatenate([improvement(chunk) for chunk in resample_chunks(rows, resamples, seed)])
    usable = differences[np.isfinite(differences)]  # e.g. an AUC of a resample that drew one class only
    if len(usable) == 0:
        raise ValueError(f"no resample of the {rows}-row holdout gives a finite {metric}")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(usable, [tail, 100 - tail])
    return BootstrapInterval(
        metric=metric,
        resamples=resamples,
        usable_resamples=int(len(usable)),
        seed=seed,
        confidence=confidence,
        rows=rows,
        observed_improvement=float(improvement(identity)[0]),
        mean_improvement=float(usable.mean()),
        low=float(low),
        high=float(high),
    )
