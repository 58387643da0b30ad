"""Imbalance handled by default: the minority share, the balanced copies, the selection metric, the threshold tuned
on validation against F1 counted by hand, and the thresholded model's labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from mlops.data.dataset import Feature, Schema
from mlops.records.request import Candidate, parse_training_request
from mlops.training import estimators, imbalance

SCHEMA = Schema([Feature("x", "numeric")], "claim", "classification", classes=["No", "Yes"], positive_class="Yes")
MULTICLASS = Schema([Feature("x", "numeric")], "kind", "classification", classes=["a", "b", "c"])


@dataclass
class Scored:
    """A fitted binary model stand-in whose probabilities of 'Yes' the test chooses."""

    yes: np.ndarray
    classes_ = np.array(["No", "Yes"], dtype=object)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        return np.column_stack([1 - self.yes[: len(features)], self.yes[: len(features)]])

    def predict(self, features: np.ndarray) -> np.ndarray:
        return np.where(self.predict_proba(features)[:, 1] >= 0.5, "Yes", "No").astype(object)


def _labels(positives: int, rows: int) -> np.ndarray:
    return np.array(["Yes"] * positives + ["No"] * (rows - positives), dtype=object)


def f1_by_counting(truth: list[str], predicted: list[str]) -> float:
    pairs = list(zip(truth, predicted, strict=True))
    tp = sum(t == p == "Yes" for t, p in pairs)
    fp = sum(t == "No" and p == "Yes" for t, p in pairs)
    fn = sum(t == "Yes" and p == "No" for t, p in pairs)
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


def balanced_accuracy_by_counting(truth: list[str], predicted: list[str]) -> float:
    recalls = []
    for side in ("Yes", "No"):
        rows = [p for t, p in zip(truth, predicted, strict=True) if t == side]
        recalls.append(sum(p == side for p in rows) / len(rows))
    return sum(recalls) / 2


def accuracy_by_counting(truth: list[str], predicted: list[str]) -> float:
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)


def test_the_minority_share_is_of_binary_targets_only():
    assert imbalance.minority_share(SCHEMA, _labels(6, 100)) == pytest.approx(0.06)
    assert imbalance.minority_share(SCHEMA, _labels(60, 100)) == pytest.approx(0.4)
    assert imbalance.minority_share(MULTICLASS, np.array(["a", "b", "c"], dtype=object)) is None
    assert imbalance.is_imbalanced(SCHEMA, _labels(19, 100)) and not imbalance.is_imbalanced(SCHEMA, _labels(20, 100))


def test_default_candidates_get_balanced_copies_and_a_request_keeps_what_it_asked_for():
    defaults = [
        Candidate(estimator="logistic_regression", params={"C": 1.0}),
        Candidate(estimator="hist_gradient_boosting", params={"max_iter": 50}),
        Candidate(estimator="random_forest", params={"n_estimators": 5}),
        Candidate(estimator="extra_trees", params={"class_weight": "balanced_subsample"}),
    ]
    request = parse_training_request({"model_name": "m", "dataset_uri": "s3://b/datasets/x.csv", "target": "claim"})
    candidates, share, metric = imbalance.settled(SCHEMA, _labels(6, 100), request, defaults)
    assert [(c.estimator, c.params) for c in candidates] == [
        *((c.estimator, c.params) for c in defaults),
        ("logistic_regression", {"C": 1.0, "class_weight": "balanced"}),
        ("hist_gradient_boosting", {"max_iter": 50, "class_weight": "balanced"}),
        ("random_forest", {"n_estimators": 5, "class_weight": "balanced_subsample"}),
    ]  # the extra trees set their own class_weight: no copy
    assert (share, metric) == (pytest.approx(0.06), "average_precision")

    listed = parse_training_request(
        {"model_name": "m", "dataset_uri": "s3://b/datasets/x.csv", "target": "claim", "gate": {"metric": "f1"},
         "candidates": [c.model_dump() for c in defaults]}
    )  # fmt: skip
    assert imbalance.settled(SCHEMA, _labels(6, 100), listed, defaults) == (defaults, pytest.approx(0.06), None)
    assert imbalance.settled(SCHEMA, _labels(40, 100), request, defaults) == (defaults, pytest.approx(0.4), None)


def test_the_threshold_maximises_validation_f1_counted_by_hand():
    rng = np.random.default_rng(0)
    truth = _labels(12, 200)
    yes = np.clip(np.where(truth == "Yes", 0.35, 0.1) + rng.normal(0, 0.08, 200), 0.001, 0.999).round(3)
    model = Scored(yes)

    decision = imbalance.tune_threshold(model, np.zeros((200, 1)), truth, SCHEMA)

    by_hand = {
        t: f1_by_counting(truth.tolist(), ["Yes" if p >= t else "No" for p in yes]) for t in sorted(set(yes))[1:]
    }
    best = max(by_hand.values())
    assert decision.validation_score == pytest.approx(best)
    assert by_hand[decision.threshold] == pytest.approx(best)
    nearest = min((t for t, f in by_hand.items() if f == pytest.approx(best)), key=lambda t: abs(t - 0.5))
    assert decision.threshold == nearest  # ties go to the one nearest 0.5
    assert decision.validation_score_at_default == f1_by_counting(truth.tolist(), model.predict(yes).tolist())
    assert decision.applied and decision.threshold < 0.5
    assert decision.reason.startswith("the minority class 'Yes' is 6.0% of the validation rows: the threshold ")


def test_the_threshold_follows_a_gate_metric_that_depends_on_it_and_the_wrapped_model_labels_with_it():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(400, 2))
    truth = np.where(features[:, 0] + rng.normal(0, 0.7, 400) > 1.9, "Yes", "No").astype(object)
    model = LogisticRegression().fit(features, truth)
    yes = model.predict_proba(features)[:, 1]

    for metric, count in (("balanced_accuracy", balanced_accuracy_by_counting), ("accuracy", accuracy_by_counting)):
        decision = imbalance.tune_threshold(model, features, truth, SCHEMA, imbalance.threshold_metric(metric))
        by_hand = {t: count(truth.tolist(), ["Yes" if p >= t else "No" for p in yes]) for t in sorted(set(yes))[1:]}
        assert decision.metric == metric
        assert decision.validation_score == pytest.approx(max(*by_hand.values(), decision.validation_score_at_default))
    assert imbalance.threshold_metric("roc_auc") == imbalance.threshold_metric("log_loss") == "f1"

    decision = imbalance.tune_threshold(model, features, truth, SCHEMA, "f1")
    assert decision.applied
    wrapped = imbalance.thresholded(model, decision)
    assert wrapped.predict(features).tolist() == ["Yes" if p >= decision.threshold else "No" for p in yes]
    assert np.array_equal(wrapped.predict_proba(features), model.predict_proba(features))


def test_half_is_kept_when_no_threshold_beats_it():
    truth = _labels(10, 100)
    yes = np.where(truth == "Yes", 0.9, 0.1)  # perfectly separated at 0.5 already

    decision = imbalance.tune_threshold(Scored(yes), np.zeros((100, 1)), truth, SCHEMA)

    assert (decision.threshold, decision.applied, decision.validation_score) == (0.5, False, 1.0)
    assert "0.5 kept" in decision.reason
    model = Scored(yes)
    assert imbalance.thresholded(model, decision) is model


def test_a_threshold_never_labels_every_row_positive():
    truth = _labels(5, 100)
    yes = np.full(100, 0.2)  # no signal: every row the same probability
    decision = imbalance.tune_threshold(Scored(yes), np.zeros((100, 1)), truth, SCHEMA)
    assert (decision.threshold, decision.applied) == (0.5, False)


def test_every_balanced_copy_of_the_defaults_fits_labels_that_read_as_numbers():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(200, 1)).astype(object)
    target = np.where(features[:, 0].astype(float) > 1.2, "1", "0").astype(object)
    schema = Schema([Feature("x", "numeric")], "y", "classification", classes=["0", "1"], positive_class="1")
    defaults = [Candidate.model_validate(c) for c in estimators.DEFAULT_CANDIDATES["classification"]]

    copies = imbalance.with_balanced_copies(defaults, "classification")[len(defaults) :]

    assert copies
    for copy in copies:  # scikit-learn's forests refuse "balanced" for these labels; the copies must not fail
        fitted, _ = estimators.fit_candidate(
            schema, copy.estimator, copy.params, seed=0, features=features, target=target
        )
        assert list(fitted.classes_) == ["0", "1"]
