"""The floor under every deployment: the trivial baseline, the paired bootstrap of the winner's improvement over it
(checked against scikit-learn's metrics on the same resamples), the reasons' wording for each task, the lift's
ratio, the stack's minimum scores and how a request may move them."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LinearRegression, LogisticRegression

from mlops.data.dataset import Feature, Schema
from mlops.settings import GATE_METRICS, MissingSetting, minimum_scores
from mlops.training import baseline_floor, scoring
from mlops.training.evaluation import GateConfig, gate
from mlops.training.scoring import score
from mlops.training.significance import resample_chunks

FEATURES = [Feature(f"x{i}", "numeric") for i in range(3)]
BINARY = Schema(FEATURES, "claim", "classification", classes=["No", "Yes"], positive_class="Yes")
MULTICLASS = Schema(FEATURES, "kind", "classification", classes=["a", "b", "c"])
REGRESSION = Schema(FEATURES, "cost", "regression")
OPTIONS = {"resamples": 300, "seed": 3, "confidence": 0.9}


def _binary(seed: int, *, signal: float, rows: int = 800) -> tuple[np.ndarray, np.ndarray]:
    """~10 % 'Yes' rows; with ``signal`` 0 the target ignores the features."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 3))
    score_ = signal * features[:, 0] + rng.normal(size=rows)
    positive = score_ > np.quantile(score_, 0.9)
    return features, np.where(positive, "Yes", "No").astype(object)


def _floor(schema: Schema, metric: str, model, train, test, **kwargs):
    holdout = score(model, *test, schema)
    return baseline_floor.measure(schema, metric, model, holdout, train=train, test=test, bootstrap=OPTIONS, **kwargs)


def _split(features: np.ndarray, target: np.ndarray, cut: int = 500):
    return (features[:cut], target[:cut]), (features[cut:], target[cut:])


def test_a_model_of_noise_on_an_imbalanced_table_is_no_better_than_always_predicting_the_majority():
    train, test = _split(*_binary(0, signal=0.0))
    model = LogisticRegression().fit(*train)  # predicts 'No' everywhere, with probabilities that rank at random

    floor = _floor(BINARY, "f1", model, train, test)

    assert (floor.strategy, floor.predicts, floor.passed) == ("prior", "always predicting 'No'", False)
    # F1 is recorded only; balanced accuracy stands in for it, then the reference metric
    assert [(check.metric, check.decides) for check in floor.checks] == [
        ("f1", False),
        ("balanced_accuracy", True),
        ("roc_auc", True),
    ]
    assert floor.metrics["f1"] == 0.0 and floor.metrics["balanced_accuracy"] == 0.5 and floor.metrics["roc_auc"] == 0.5
    f1, balanced, auc = floor.checks
    assert (f1.winner_score, f1.difference, f1.ratio, f1.interval) == (0.0, 0.0, None, None)
    assert "(recorded, not decisive: " in f1.reason
    assert (balanced.winner_score, balanced.difference, balanced.passed) == (0.5, 0.0, False)
    assert balanced.reason == (
        "no better than always predicting 'No': balanced_accuracy 0.5000 vs 0.5000 (90% interval of the improvement "
        "[+0.0000, +0.0000], 300 resamples of 300 rows, seed 3, not above 0.0)"
    )
    assert not auc.passed and auc.interval.low <= 0 < auc.interval.high


def test_the_interval_is_the_percentiles_of_scikit_learns_metric_difference_on_the_same_resamples():
    train, test = _split(*_binary(1, signal=2.0))
    model = LogisticRegression().fit(*train)
    dummy = baseline_floor.fit_baseline(BINARY, *train)
    test_x, test_y = test

    floor = _floor(BINARY, "f1", model, train, test)

    index = np.vstack(list(resample_chunks(len(test_y), OPTIONS["resamples"], OPTIONS["seed"])))
    is_positive = test_y == "Yes"
    ours, theirs = model.predict_proba(test_x)[:, 1], dummy.predict_proba(test_x)[:, 1]
    ours_labels, theirs_labels = model.predict(test_x), dummy.predict(test_x)
    by_hand = {
        "roc_auc": [
            skm.roc_auc_score(is_positive[r], ours[r]) - skm.roc_auc_score(is_positive[r], theirs[r]) for r in index
        ],
        "balanced_accuracy": [
            skm.balanced_accuracy_score(test_y[r], ours_labels[r])
            - skm.balanced_accuracy_score(test_y[r], theirs_labels[r])
            for r in index
        ],
    }
    recorded = floor.checks[0]
    assert (recorded.metric, recorded.decides, recorded.interval) == ("f1", False, None)
    assert recorded.difference == pytest.approx(recorded.winner_score) and recorded.ratio is None
    for check in floor.checks[1:]:
        low, high = np.percentile(by_hand[check.metric], [5, 95])
        assert (check.interval.low, check.interval.high) == pytest.approx((low, high), abs=1e-9), check.metric
        assert check.interval.observed_improvement == pytest.approx(check.difference, abs=1e-12)
        assert check.passed and check.interval.low > 0 and check.interval.required and check.interval.passed
        assert check.reason.startswith("better than always predicting 'No': ")
    assert floor.passed
    assert floor.checks[2].ratio == pytest.approx(floor.checks[2].winner_score / 0.5)
    assert floor.lift() == {c.metric: {"difference": c.difference, "ratio": c.ratio} for c in floor.checks}


def test_regression_is_checked_against_the_training_mean_in_words():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(600, 3))
    noise_target = rng.normal(size=600)
    noise_target = noise_target - noise_target[:400].mean() + 1234.5  # the training mean is exactly 1234.5
    train, test = (features[:400], noise_target[:400]), (features[400:], noise_target[400:])
    fitted = LinearRegression().fit(*train)

    floor = _floor(REGRESSION, "rmse", fitted, train, test)

    assert (floor.strategy, floor.predicts) == ("mean", "predicting the mean, 1234.5")
    assert [check.metric for check in floor.checks] == ["rmse", "r2"]
    assert not floor.passed
    assert floor.checks[1].reason.startswith("no better than predicting the mean, 1234.5: r2 ")
    assert floor.checks[1].ratio is None  # R² of the mean is about 0: no ratio
    assert floor.checks[0].ratio == pytest.approx(floor.metrics["rmse"] / floor.checks[0].winner_score)

    signal_target = 100 * features[:, 0] + rng.normal(size=600)
    train, test = (features[:400], signal_target[:400]), (features[400:], signal_target[400:])
    floor = _floor(REGRESSION, "r2", LinearRegression().fit(*train), train, test)
    assert floor.passed and [check.metric for check in floor.checks] == ["r2"]
    assert floor.checks[0].difference == pytest.approx(floor.checks[0].winner_score - floor.metrics["r2"])


def test_multiclass_names_the_majority_class_and_checks_macro_metrics():
    rng = np.random.default_rng(4)
    features = rng.normal(size=(900, 3))
    target = np.where(features[:, 0] > 0.6, "c", np.where(features[:, 0] < -1.2, "a", "b")).astype(object)
    train, test = _split(features, target, cut=600)

    floor = _floor(MULTICLASS, "balanced_accuracy", LogisticRegression().fit(*train), train, test)

    assert floor.predicts == "always predicting 'b'"
    assert floor.metrics["balanced_accuracy"] == pytest.approx(1 / 3)
    assert floor.metrics["roc_auc"] == pytest.approx(0.5)
    assert floor.passed and all(check.interval.low > 0 for check in floor.checks)
    assert floor.checks[0].ratio == pytest.approx(floor.checks[0].winner_score * 3)


def test_the_gate_refuses_a_winner_below_the_floor_with_or_without_a_champion():
    train, test = _split(*_binary(0, signal=0.0))
    model = LogisticRegression().fit(*train)
    floor = _floor(BINARY, "f1", model, train, test)
    holdout = score(model, *test, BINARY)
    config = GateConfig(metric="f1", min_improvement=0.0)

    alone = gate(config, holdout, None, None, floor=floor)
    over_a_champion = gate(config, holdout, {**holdout, "f1": -1.0}, 1, floor=floor)

    for decision in (alone, over_a_champion):
        assert (decision.passed, decision.decision) == (False, "reject")
        assert decision.baseline == floor
        assert [r for r in decision.reasons if r.startswith("no better than always predicting 'No'")]
    assert gate(config, holdout, None, None).passed  # the same winner with no floor: nothing to beat


def test_the_checked_metrics_replace_f1_and_add_the_reference_once():
    assert baseline_floor.checked_metrics("classification", "f1") == [
        ("f1", False),
        ("balanced_accuracy", True),
        ("roc_auc", True),
    ]
    assert baseline_floor.checked_metrics("classification", "roc_auc") == [("roc_auc", True)]
    assert baseline_floor.checked_metrics("classification", "log_loss") == [("log_loss", True), ("roc_auc", True)]
    assert baseline_floor.checked_metrics("regression", "mae") == [("mae", True), ("r2", True)]


def test_a_majority_positive_class_does_not_hold_a_useful_model_on_f1():
    # Given 'Yes' as the majority: always predicting it has F1 2p/(1+p), near the model's on a small holdout
    rng = np.random.default_rng(5)
    features = rng.normal(size=(400, 3))
    target = np.where(features[:, 0] + rng.normal(0, 1.0, 400) > -0.3, "Yes", "No").astype(object)
    train, test = _split(features, target, cut=280)
    model = LogisticRegression().fit(*train)

    floor = _floor(BINARY, "f1", model, train, test)

    assert floor.predicts == "always predicting 'Yes'" and floor.metrics["f1"] > 0.7
    assert floor.passed  # decided on balanced accuracy and ROC AUC, whatever F1's small lift


def test_the_lift_ratio_means_something_or_is_none():
    assert baseline_floor.ratio("roc_auc", 0.8, 0.5) == pytest.approx(1.6)
    assert baseline_floor.ratio("f1", 0.4, 0.0) is None
    assert baseline_floor.ratio("log_loss", 0.1, 0.3) == pytest.approx(3.0)
    assert baseline_floor.ratio("rmse", 0.0, 2.0) is None
    assert baseline_floor.ratio("r2", 0.7, -0.01) is None


def test_a_request_may_make_the_stack_floor_stricter_never_looser():
    floors = {"f1": 0.2, "rmse": 10.0}
    assert baseline_floor.settled_min_score("f1", None, floors) == 0.2
    assert baseline_floor.settled_min_score("f1", 0.3, floors) == 0.3
    assert baseline_floor.settled_min_score("roc_auc", 0.1, floors) == 0.1  # no floor for that metric
    assert baseline_floor.settled_min_score("rmse", 8.0, floors) == 8.0  # a loss: stricter is smaller
    with pytest.raises(ValueError, match=r"gate.min_score 0.1 for f1 is below the stack's floor f1=0.2"):
        baseline_floor.settled_min_score("f1", 0.1, floors)
    with pytest.raises(ValueError, match=r"gate.min_score 12.0 for rmse is above the stack's floor rmse=10.0"):
        baseline_floor.settled_min_score("rmse", 12.0, floors)


def test_gate_minimum_scores_are_read_strictly():
    assert minimum_scores("") == {}
    assert minimum_scores("f1=0.2, r2=0,rmse=12.5") == {"f1": 0.2, "r2": 0.0, "rmse": 12.5}
    for bad in ("f1", "f=0.2", "f1=0.2,f1=0.3", "f1=high", "f1=nan"):
        with pytest.raises(MissingSetting, match="GATE_MINIMUM_SCORES"):
            minimum_scores(bad)
    assert set(scoring.CLASSIFICATION_METRICS + scoring.REGRESSION_METRICS) == GATE_METRICS


def test_a_large_holdout_gets_fewer_resamples_by_default_never_under_the_minimum():
    assert baseline_floor.default_resamples(300) == 1000
    assert baseline_floor.default_resamples(10_000) == 400
    assert baseline_floor.default_resamples(1_000_000) == 200
