"""Holdout metrics against independent formulas, the gate configuration, the promotion gate, selection."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from mlops.data.dataset import Feature, Schema
from mlops.records.steps import FailedCandidate, TrainedCandidate
from mlops.training import leakage, scoring
from mlops.training.evaluation import GateConfig, gate, select_best

FEATURES = [Feature("x", "numeric")]


@dataclass
class FixedModel:
    """A fitted-model stand-in whose outputs the test chooses, so the metrics can be computed by hand."""

    classes_: list[str]
    predictions: np.ndarray
    probabilities: np.ndarray | None = None

    def predict(self, features: np.ndarray) -> np.ndarray:
        assert len(features) == len(self.predictions)
        return self.predictions

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        assert len(features) == len(self.probabilities)
        return self.probabilities


def pairwise_auc(scores: list[float], is_positive: list[bool]) -> float:
    """ROC AUC as the share of (positive, negative) pairs ranked correctly, ties counting half."""
    positives = [s for s, p in zip(scores, is_positive, strict=True) if p]
    negatives = [s for s, p in zip(scores, is_positive, strict=True) if not p]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def accuracy_by_counting(target: list[str], predictions: list[str]) -> float:
    return sum(t == p for t, p in zip(target, predictions, strict=True)) / len(target)


def f1_by_counting(target: list[str], predictions: list[str], positive: str) -> float:
    pairs = list(zip(target, predictions, strict=True))
    true_positives = sum(t == positive and p == positive for t, p in pairs)
    false_positives = sum(t != positive and p == positive for t, p in pairs)
    false_negatives = sum(t == positive and p != positive for t, p in pairs)
    return 2 * true_positives / (2 * true_positives + false_positives + false_negatives)


def log_loss_by_hand(target: list[str], probabilities: np.ndarray, classes: list[str]) -> float:
    return -sum(math.log(row[classes.index(label)]) for label, row in zip(target, probabilities, strict=True)) / len(
        target
    )


# ---- score ------------------------------------------------------------------------------------------------
BINARY_TARGET = ["yes", "no", "yes", "yes", "no", "no", "yes", "no", "no", "yes"]
PROBABILITY_OF_YES = [0.9, 0.2, 0.4, 0.7, 0.6, 0.1, 0.8, 0.3, 0.52, 0.55]


def binary_model() -> FixedModel:
    probabilities = np.column_stack([1 - np.array(PROBABILITY_OF_YES), PROBABILITY_OF_YES])
    predictions = np.array(["yes" if p >= 0.5 else "no" for p in PROBABILITY_OF_YES], dtype=object)
    return FixedModel(["no", "yes"], predictions, probabilities)


def test_binary_metrics_match_counting_and_pairwise_ranking():
    model = binary_model()
    target = np.array(BINARY_TARGET, dtype=object)
    schema = Schema(FEATURES, "label", "classification", ["no", "yes"], "yes")

    result = scoring.score(model, np.zeros((10, 1)), target, schema)

    predictions = list(model.predictions)
    assert set(result) == set(scoring.CLASSIFICATION_METRICS)
    assert result["accuracy"] == pytest.approx(accuracy_by_counting(BINARY_TARGET, predictions))
    assert result["f1"] == pytest.approx(f1_by_counting(BINARY_TARGET, predictions, "yes"))
    assert result["roc_auc"] == pytest.approx(pairwise_auc(PROBABILITY_OF_YES, [t == "yes" for t in BINARY_TARGET]))
    assert result["log_loss"] == pytest.approx(log_loss_by_hand(BINARY_TARGET, model.probabilities, ["no", "yes"]))


def average_precision_by_ranking(scores: list[float], is_positive: list[bool]) -> float:
    """Mean, over the positives, of the precision among the rows ranked at or above each (no ties here)."""
    ranked = [p for _, p in sorted(zip(scores, is_positive, strict=True), key=lambda pair: -pair[0])]
    hits, precisions = 0, []
    for rank, positive in enumerate(ranked, start=1):
        if positive:
            hits += 1
            precisions.append(hits / rank)
    return sum(precisions) / len(precisions)


def test_balanced_accuracy_and_average_precision_for_the_positive_class():
    model = binary_model()
    target = np.array(BINARY_TARGET, dtype=object)
    predictions = list(model.predictions)

    for positive, scores in (("yes", PROBABILITY_OF_YES), ("no", [1 - p for p in PROBABILITY_OF_YES])):
        schema = Schema(FEATURES, "label", "classification", ["no", "yes"], positive)
        result = scoring.score(model, np.zeros((10, 1)), target, schema)

        recalls = [
            sum(t == c and p == c for t, p in zip(BINARY_TARGET, predictions, strict=True)) / BINARY_TARGET.count(c)
            for c in ("no", "yes")
        ]
        assert result["balanced_accuracy"] == pytest.approx(sum(recalls) / 2)
        expected = average_precision_by_ranking(scores, [t == positive for t in BINARY_TARGET])
        assert result["average_precision"] == pytest.approx(expected)
    assert scoring.higher_is_better("balanced_accuracy") and scoring.higher_is_better("average_precision")


def test_balanced_accuracy_sees_through_an_imbalanced_majority_vote():
    target = np.array(["rare"] * 2 + ["common"] * 98, dtype=object)
    always_common = np.array(["common"] * 100, dtype=object)
    model = FixedModel(["common", "rare"], always_common, np.tile([0.9, 0.1], (100, 1)))
    schema = Schema(FEATURES, "label", "classification", ["common", "rare"], "rare")

    result = scoring.score(model, np.zeros((100, 1)), target, schema)

    assert result["accuracy"] == pytest.approx(0.98)
    assert result["balanced_accuracy"] == pytest.approx(0.5)
    assert result["f1"] == 0.0
    assert result["average_precision"] == pytest.approx(0.02)  # constant scores: precision is the base rate


def test_binary_f1_and_auc_follow_the_positive_class_even_when_it_sorts_first():
    model = binary_model()
    target = np.array(BINARY_TARGET, dtype=object)
    schema = Schema(FEATURES, "label", "classification", ["no", "yes"], "no")

    result = scoring.score(model, np.zeros((10, 1)), target, schema)

    probability_of_no = [1 - p for p in PROBABILITY_OF_YES]
    expected_f1 = f1_by_counting(BINARY_TARGET, list(model.predictions), "no")
    assert expected_f1 != pytest.approx(f1_by_counting(BINARY_TARGET, list(model.predictions), "yes"))
    assert result["f1"] == pytest.approx(expected_f1)
    assert result["roc_auc"] == pytest.approx(pairwise_auc(probability_of_no, [t == "no" for t in BINARY_TARGET]))


def test_multiclass_metrics_are_macro_averages():
    classes = ["bird", "cat", "dog"]
    target = ["cat", "dog", "bird", "cat", "dog", "bird", "cat", "dog", "bird", "cat"]
    probabilities = np.array(
        [
            [0.1, 0.7, 0.2],
            [0.2, 0.3, 0.5],
            [0.6, 0.3, 0.1],
            [0.4, 0.35, 0.25],
            [0.1, 0.6, 0.3],
            [0.5, 0.25, 0.25],
            [0.2, 0.5, 0.3],
            [0.3, 0.3, 0.4],
            [0.2, 0.2, 0.6],
            [0.15, 0.8, 0.05],
        ]
    )
    predictions = [classes[int(np.argmax(row))] for row in probabilities]
    model = FixedModel(classes, np.array(predictions, dtype=object), probabilities)
    schema = Schema(FEATURES, "label", "classification", classes, None)

    result = scoring.score(model, np.zeros((10, 1)), np.array(target, dtype=object), schema)

    per_class_f1 = [f1_by_counting(target, predictions, label) for label in classes]
    per_class_auc = [
        pairwise_auc(list(probabilities[:, column]), [t == label for t in target])
        for column, label in enumerate(classes)
    ]
    assert result["accuracy"] == pytest.approx(accuracy_by_counting(target, predictions))
    assert result["f1"] == pytest.approx(sum(per_class_f1) / len(classes))
    assert result["roc_auc"] == pytest.approx(sum(per_class_auc) / len(classes))
    assert result["log_loss"] == pytest.approx(log_loss_by_hand(target, probabilities, classes))


def test_regression_metrics_match_numpy():
    target = np.array([3.0, -0.5, 2.0, 7.0, 4.2, 0.0])
    predictions = np.array([2.5, 0.0, 2.0, 8.0, 3.9, -0.4])
    model = FixedModel([], predictions)
    schema = Schema(FEATURES, "label", "regression")

    result = scoring.score(model, np.zeros((6, 1)), target, schema)

    errors = target - predictions
    assert set(result) == set(scoring.REGRESSION_METRICS)
    assert result["rmse"] == pytest.approx(np.sqrt(np.mean(errors**2)))
    assert result["mae"] == pytest.approx(np.mean(np.abs(errors)))
    assert result["r2"] == pytest.approx(1 - np.sum(errors**2) / np.sum((target - target.mean()) ** 2))


def test_scores_are_plain_floats_that_serialise_to_json():
    result = scoring.score(
        binary_model(),
        np.zeros((10, 1)),
        np.array(BINARY_TARGET, dtype=object),
        Schema(FEATURES, "label", "classification", ["no", "yes"], "yes"),
    )

    assert all(type(value) is float for value in result.values())


@pytest.mark.parametrize("metric", ["accuracy", "f1", "roc_auc", "r2"])
def test_scores_are_higher_is_better(metric):
    assert scoring.higher_is_better(metric)


@pytest.mark.parametrize("metric", ["log_loss", "rmse", "mae"])
def test_losses_are_lower_is_better(metric):
    assert not scoring.higher_is_better(metric)


# ---- GateConfig -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("task", "metric"), [("classification", "f1"), ("regression", "r2")])
@pytest.mark.parametrize("requested", [None, {}])
def test_gate_defaults_are_the_documented_ones(task, metric, requested):
    config = GateConfig.from_request(task, requested)

    assert (config.metric, config.min_score, config.min_improvement) == (metric, None, 0.001)


def test_gate_settings_from_the_request_are_kept():
    requested = {"metric": "rmse", "min_score": 2.5, "min_improvement": 0.1}

    config = GateConfig.from_request("regression", requested)

    assert (config.metric, config.min_score, config.min_improvement) == ("rmse", 2.5, 0.1)
    assert requested == {"metric": "rmse", "min_score": 2.5, "min_improvement": 0.1}  # the request is not consumed


@pytest.mark.parametrize(
    ("task", "metric"), [("classification", "rmse"), ("regression", "accuracy"), ("regression", "mse")]
)
def test_a_metric_of_another_task_is_refused_listing_the_choices(task, metric):
    with pytest.raises(ValueError, match=rf"gate metric '{metric}' is not a {task} metric; choose one of") as raised:
        GateConfig.from_request(task, {"metric": metric})

    for choice in scoring.metrics_for(task):
        assert choice in str(raised.value)


def test_a_negative_min_improvement_is_refused():
    with pytest.raises(ValueError, match="min_improvement cannot be negative"):
        GateConfig.from_request("classification", {"min_improvement": -0.01})


def test_an_unknown_gate_setting_is_refused():
    with pytest.raises(TypeError, match="threshold"):
        GateConfig.from_request("classification", {"threshold": 0.9})


# ---- gate -------------------------------------------------------------------------------------------------
def test_without_a_champion_or_threshold_the_challenger_is_promoted():
    decision = gate(GateConfig("f1"), {"f1": 0.42}, champion=None, champion_version=None)

    assert decision.passed
    assert decision.decision == "promote"
    assert decision.champion_score is None
    assert decision.reasons == ["no champion in production: nothing to beat"]


@pytest.mark.parametrize(
    ("metric", "value", "min_score", "passed"),
    [
        ("f1", 0.81, 0.8, True),
        ("f1", 0.8, 0.8, True),
        ("f1", 0.79, 0.8, False),
        ("rmse", 2.9, 3.0, True),
        ("rmse", 3.0, 3.0, True),
        ("rmse", 3.1, 3.0, False),
        ("log_loss", 0.7, 0.5, False),
    ],
)
def test_the_threshold_is_met_in_the_metric_s_direction(metric, value, min_score, passed):
    decision = gate(GateConfig(metric, min_score=min_score), {metric: value}, champion=None, champion_version=None)

    assert decision.passed is passed
    relation = "≥" if scoring.higher_is_better(metric) else "≤"
    verdict = "meets" if passed else "fails"
    assert decision.reasons[0] == f"{metric} {value:.4f} {verdict} the threshold {relation} {min_score}"


@pytest.mark.parametrize(
    ("metric", "challenger", "champion", "passed"),
    [
        ("f1", 0.9, 0.8, True),
        ("f1", 0.8, 0.9, False),
        ("f1", 0.8, 0.8, False),
        ("rmse", 1.0, 2.0, True),
        ("rmse", 2.0, 1.0, False),
        ("log_loss", 0.2, 0.4, True),
        ("log_loss", 0.4, 0.2, False),
    ],
)
def test_the_challenger_must_beat_the_champion_in_the_metric_s_direction(metric, challenger, champion, passed):
    decision = gate(GateConfig(metric), {metric: challenger}, {metric: champion}, champion_version=3)

    assert decision.passed is passed
    assert (decision.challenger_score, decision.champion_score, decision.champion_version) == (challenger, champion, 3)
    assert f"vs champion v3 {champion:.4f}" in decision.reasons[-1]


@pytest.mark.parametrize(("metric", "challenger", "champion"), [("accuracy", 0.75, 0.5), ("rmse", 0.5, 0.75)])
def test_an_improvement_exactly_at_the_margin_passes_and_just_below_fails(metric, challenger, champion):
    # binary fractions, so that the subtraction is exact
    at_margin = gate(GateConfig(metric, min_improvement=0.25), {metric: challenger}, {metric: champion}, 1)
    below = gate(GateConfig(metric, min_improvement=0.25 + 1e-9), {metric: challenger}, {metric: champion}, 1)

    assert at_margin.passed
    assert "+0.2500 meets the minimum 0.25" in at_margin.reasons[-1]
    assert not below.passed
    assert "is below the minimum" in below.reasons[-1]


def test_one_more_correct_row_in_a_hundred_meets_a_one_point_margin():
    decision = gate(GateConfig("accuracy", min_improvement=0.01), {"accuracy": 57 / 100}, {"accuracy": 56 / 100}, 1)

    assert decision.passed


def test_both_the_threshold_and_the_champion_must_be_beaten():
    config = GateConfig("f1", min_score=0.9)

    misses_threshold = gate(config, {"f1": 0.85}, {"f1": 0.5}, 2)
    misses_champion = gate(config, {"f1": 0.95}, {"f1": 0.99}, 2)
    beats_both = gate(config, {"f1": 0.95}, {"f1": 0.5}, 2)

    assert (misses_threshold.passed, misses_champion.passed, beats_both.passed) == (False, False, True)
    assert len(beats_both.reasons) == 2


def test_a_champion_that_cannot_be_compared_forces_a_reject():
    decision = gate(
        GateConfig("f1", min_score=0.5),
        {"f1": 0.99},
        champion=None,
        champion_version=4,
        champion_problem="its features differ from this dataset's",
    )

    assert not decision.passed
    assert decision.champion_score is None
    assert decision.reasons[-1] == "champion v4 cannot be compared: its features differ from this dataset's"


def test_a_decision_serialises_with_its_verdict():
    decision = gate(GateConfig("rmse", min_score=1.0, min_improvement=0.0), {"rmse": 2.0}, {"rmse": 3.0}, 1)

    document = decision.to_dict()

    assert document["decision"] == "reject"
    assert document["passed"] is False
    assert {key: document[key] for key in ("metric", "challenger_score", "champion_score", "champion_version")} == {
        "metric": "rmse",
        "challenger_score": 2.0,
        "champion_score": 3.0,
        "champion_version": 1,
    }
    assert document["reasons"] == decision.reasons


# ---- leakage ----------------------------------------------------------------------------------------------
def _leaky_data(task: str, rows: int = 400):
    rng = np.random.default_rng(4)
    honest = rng.normal(size=rows)
    if task == "classification":
        target = np.where(honest + rng.normal(size=rows) > 0, "yes", "no").astype(object)
        copy = np.where(target == "yes", "Y", "N").astype(object)
    else:
        target = 20_000 + 5_000 * honest + 3_000 * rng.normal(size=rows)
        copy = (target / 1000.0).round(3).astype(object)
    features = np.empty((rows, 2), dtype=object)
    features[:, 0] = honest
    features[:, 1] = copy
    return features, target


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_feature_that_copies_the_target_raises_a_leakage_warning_and_an_honest_one_does_not(task):
    features, target = _leaky_data(task)
    kind = "categorical" if task == "classification" else "numeric"
    schema = Schema(
        [Feature("honest", "numeric"), Feature("copy", kind)],
        "y",
        task,
        ["no", "yes"] if task == "classification" else None,
        "yes" if task == "classification" else None,
    )

    warnings = leakage.leakage_warnings(features[:300], target[:300], features[300:], target[300:], schema)

    assert len(warnings) == 1
    assert "feature 'copy' alone reaches validation" in warnings[0]


def test_leakage_warnings_are_recorded_and_block_only_when_asked():
    warnings = ["possible target leakage: feature 'copy' alone reaches validation R² 0.999"]

    recorded = gate(GateConfig("r2"), {"r2": 0.99}, None, None, warnings=warnings)
    blocked = gate(GateConfig("r2", block_on_leakage=True), {"r2": 0.99}, None, None, warnings=warnings)
    clean = gate(GateConfig("r2", block_on_leakage=True), {"r2": 0.99}, None, None, warnings=[])

    assert (recorded.passed, recorded.to_dict()["warnings"]) == (True, warnings)
    assert blocked.passed is False
    assert blocked.reasons[-1].startswith("possible target leakage blocks promotion (gate.block_on_leakage)")
    assert clean.passed is True


# ---- select_best ------------------------------------------------------------------------------------------
def candidate(
    index: int, score: float | None, status: str = "trained", metric: str = "f1"
) -> TrainedCandidate | FailedCandidate:
    if status == "failed":  # a failed candidate has no scores, whatever it might have reached
        return FailedCandidate(status="failed", index=index, estimator=f"e{index}", error="ValueError")
    return TrainedCandidate(
        status="trained",
        index=index,
        estimator=f"e{index}",
        artifact_uri=f"s3://bucket/candidates/{index:02d}.joblib",
        artifact_sha256="0" * 64,
        validation_metrics={metric: score},
    )


def test_the_best_validation_score_wins():
    candidates = [candidate(0, 0.7), candidate(1, 0.9), candidate(2, 0.8)]

    assert select_best(candidates, "f1").index == 1


def test_the_lowest_loss_wins():
    candidates = [candidate(0, 1.5, metric="rmse"), candidate(1, 0.9, metric="rmse"), candidate(2, 2.0, metric="rmse")]

    assert select_best(candidates, "rmse").index == 1


@pytest.mark.parametrize("metric", ["f1", "log_loss"])
def test_a_tie_goes_to_the_earliest_index_whatever_the_list_order(metric):
    candidates = [candidate(2, 0.8, metric=metric), candidate(0, 0.8, metric=metric), candidate(1, 0.8, metric=metric)]

    assert select_best(candidates, metric).index == 0


def test_failed_candidates_are_ignored_even_with_better_scores():
    candidates = [candidate(0, 0.99, status="failed"), candidate(1, 0.6), candidate(2, None, status="failed")]

    assert select_best(candidates, "f1").index == 1
