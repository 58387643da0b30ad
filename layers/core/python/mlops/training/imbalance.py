"""Imbalance handled by default: a binary target whose minority class is under ``MINORITY_SHARE`` of the rows.

For such a table a run (unless the request decides otherwise):

- trains each default candidate that takes ``class_weight`` a second time with ``class_weight="balanced"`` (a request
  that lists its candidates, searches, or sets ``class_weight`` keeps what it asked for);
- selects the winner on validation average precision, a threshold-free metric, when the request names no gate
  metric (F1 at the 0.5 threshold ranks a model that never predicts the minority class no lower than one that ranks
  it well);
- tunes the winner's decision threshold on validation: the positive-class probability that maximises the gate metric
  on validation if it depends on the threshold (F1, balanced accuracy, accuracy), else F1 (over the distinct
  validation probabilities above the lowest, ties to the one nearest 0.5), kept only if it beats 0.5. The winner
  becomes scikit-learn's ``FixedThresholdClassifier`` around the fitted model (nothing refitted), so every path that
  calls ``predict`` applies the threshold: the holdout metrics, the champion comparison of a later run, the
  endpoint, batch scoring. skl2onnx does not convert the wrapper: such a version is served by scikit-learn, which
  is parity by construction (docs/architecture.md, "The gate").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlops.data.dataset import Schema
from mlops.records.gate import DecisionThreshold
from mlops.records.request import Candidate, TrainingRequest
from mlops.records.steps import TrainedCandidate
from mlops.storage import objects
from mlops.storage.objects import S3Uri
from mlops.training import estimators

MINORITY_SHARE = 0.2
SELECTION_METRIC = "average_precision"
DEFAULT_THRESHOLD = 0.5
MAX_THRESHOLDS = 512  # thresholds tried: the distinct validation probabilities, thinned to quantiles beyond this


def minority_share(schema: Schema, target: np.ndarray) -> float | None:
    """The rarer class's share of ``target`` for a binary problem (None otherwise)."""
    if schema.task != "classification" or len(schema.classes or []) != 2 or len(target) == 0:
        return None
    _, counts = np.unique(np.asarray(target).astype(str), return_counts=True)
    return float(counts.min() / len(target)) if len(counts) == 2 else 0.0


def is_imbalanced(schema: Schema, target: np.ndarray) -> bool:
    share = minority_share(schema, target)
    return share is not None and share < MINORITY_SHARE


# A bootstrapping forest is balanced per bootstrap sample: scikit-learn 1.9's forests refuse "balanced" for labels
# that read as numbers ("0"/"1": "The classes, [0, 1], are not in class_weight"), and "balanced_subsample" is the
# forest's own form of the same reweighting.
BALANCED = {"random_forest": "balanced_subsample"}


def with_balanced_copies(candidates: list[Candidate], task: str) -> list[Candidate]:
    """The candidates, then a balanced copy (class_weight "balanced", a forest's "balanced_subsample") of each that
    takes class_weight and does not set it."""
    copies = [
        candidate.model_copy(
            update={"params": {**candidate.params, "class_weight": BALANCED.get(candidate.estimator, "balanced")}}
        )
        for candidate in candidates
        if "class_weight" in estimators.ESTIMATORS[task][candidate.estimator]().get_params()
        and "class_weight" not in candidate.params
    ]
    return [*candidates, *copies]


# The threshold is tuned for the gate metric when that one depends on it, else for F1 (the labels still matter)
THRESHOLD_METRICS = ("f1", "balanced_accuracy", "accuracy")


def threshold_metric(gate_metric: str) -> str:
    return gate_metric if gate_metric in THRESHOLD_METRICS else "f1"


def _label_score(metric: str, is_positive: np.ndarray, predicted_positive: np.ndarray) -> float:
    """F1 of the positive class, balanced accuracy or accuracy of the labels ``predicted_positive`` gives."""
    hits = is_positive == predicted_positive
    if metric == "accuracy":
        return float(np.mean(hits))
    if metric == "balanced_accuracy":
        recalls = [float(np.mean(hits[is_positive == side])) for side in (True, False) if np.any(is_positive == side)]
        return float(np.mean(recalls))
    true_positive = float(np.sum(is_positive & predicted_positive))
    denominator = float(np.sum(is_positive) + np.sum(predicted_positive))
    return 2 * true_positive / denominator if denominator else 0.0


def tune_threshold(
    model: Any, features: np.ndarray, target: np.ndarray, schema: Schema, metric: str = "f1"
) -> DecisionThreshold:
    """The positive-class probability threshold that maximises ``metric`` (F1, balanced accuracy or accuracy) on the
    validation rows (``features``, ``target``)."""
    positive = schema.positive_class
    probability = np.asarray(model.predict_proba(features))[:, list(model.classes_).index(positive)]
    is_positive = np.asarray(target).astype(str) == str(positive)
    # above the lowest probability: a threshold that labels every row positive is no decision
    candidates = np.unique(probability[probability > probability.min()])
    if len(candidates) > MAX_THRESHOLDS:
        candidates = np.unique(np.quantile(candidates, np.linspace(0, 1, MAX_THRESHOLDS)))
    candidates = np.append(candidates, DEFAULT_THRESHOLD)
    scores = np.array([_label_score(metric, is_positive, probability >= threshold) for threshold in candidates])
    best = scores.max()
    ties = candidates[np.isclose(scores, best, rtol=0, atol=1e-12)]
    threshold = float(ties[np.argmin(np.abs(ties - DEFAULT_THRESHOLD))])
    at_default = _label_score(metric, is_positive, probability >= DEFAULT_THRESHOLD)
    kept = best > at_default + 1e-12
    threshold = threshold if kept else DEFAULT_THRESHOLD
    share = float(np.mean(is_positive))
    why = (
        f"the minority class {positive!r} is {share:.1%} of the validation rows: the threshold {threshold:.4f} on its "
        f"probability gives validation {metric} {best:.4f}, against {at_default:.4f} at 0.5"
        if kept
        else f"the minority class {positive!r} is {share:.1%} of the validation rows, and no threshold gives a "
        f"validation {metric} above {at_default:.4f}, the one at 0.5: 0.5 kept"
    )
    return DecisionThreshold(
        threshold=threshold,
        positive_class=str(positive),
        tuned_on="validation",
        metric=metric,
        validation_score=float(best if kept else at_default),
        validation_score_at_default=float(at_default),
        applied=kept,
        reason=why,
    )


def thresholded(model: Any, decision: DecisionThreshold) -> Any:
    """The fitted model whose ``predict`` labels a row positive when its probability is at least the threshold."""
    if not decision.applied:
        return model
    from sklearn.model_selection import FixedThresholdClassifier  # noqa: PLC0415 - scikit-learn's, as the estimators

    return FixedThresholdClassifier(
        model, threshold=decision.threshold, pos_label=decision.positive_class, response_method="predict_proba"
    )


def settled(
    schema: Schema, target: np.ndarray, request: TrainingRequest, candidates: list[Candidate] | None
) -> tuple[list[Candidate] | None, float | None, str | None]:
    """What Prepare settles for the table: (the candidates, with balanced copies of the defaults for an imbalanced
    binary target; the minority share; the selection metric when it is not the gate's)."""
    share = minority_share(schema, target)
    if share is None or share >= MINORITY_SHARE:
        return candidates, share, None
    if candidates is not None and not request.candidates and request.class_weight is None:
        candidates = with_balanced_copies(candidates, schema.task)
    # the winner is picked on a threshold-free metric unless the request chose the gate's
    return candidates, share, SELECTION_METRIC if request.gate.metric is None else None


def with_threshold(
    winner: TrainedCandidate,
    model: Any,
    validation: tuple[np.ndarray, np.ndarray],
    schema: Schema,
    *,
    minority: float | None,
    gate_metric: str,
    artifact_uri: S3Uri,
    tuning: Any = None,
) -> tuple[TrainedCandidate, Any]:
    """(the winner, its model) with the decision threshold tuned on ``validation`` for an imbalanced binary target:
    a threshold that beats 0.5 wraps the model and is stored as the winner's artifact; the decision is recorded
    on the winner either way. Anything else comes back as it was. ``tuning`` (the model as it reads ``validation``'s
    features: a lean matrix's, mlops.training.lean) gives the probabilities, if not ``model``."""
    if minority is None or minority >= MINORITY_SHARE:
        return winner, model
    decision = tune_threshold(tuning or model, *validation, schema, threshold_metric(gate_metric))
    update: dict[str, Any] = {"decision_threshold": decision}
    if decision.applied:
        model = thresholded(model, decision)
        payload = objects.dump_model(model)
        update |= {
            "artifact_uri": str(artifact_uri),
            "artifact_sha256": objects.put_bytes(artifact_uri, payload),
            "artifact_size_bytes": len(payload),
        }
    return winner.model_copy(update=update), model
