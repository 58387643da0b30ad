"""Label-free estimated performance on seeded shifts whose truth is known: CBPE for a classifier (the true accuracy
of every covariate-shifted window within the estimate's interval in at least 90% of windows, and no alarm on windows
like the holdout), DLE for a regressor, the exported loss model equal to scikit-learn's, and the capture's records
feeding the estimate."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from threadpoolctl import threadpool_limits

from mlops.monitoring.capture_records import records_of
from mlops.monitoring.config import MonitoringConfig
from mlops.monitoring.estimated import judge_estimated
from mlops.monitoring.estimation import EstimateFeeder, calibrate, predict_trees
from mlops.records.schema import Feature, Schema
from mlops.training.estimator import classifier_estimator, export_trees, fit_estimator
from tests.unit.test_predict_columnar import call
from tests.unit.test_serving_columns import good_row

COEFFICIENTS = np.array([1.6, -1.1, 0.7, 0.0])  # the last feature is noise: the model should ignore it
CLASS_SCHEMA = Schema(
    features=[Feature(f"x{i}", "numeric") for i in range(4)],
    target="y",
    task="classification",
    classes=["0", "1"],
    positive_class="1",
)
NO_SHIFT = np.zeros(4)


def draw(rng: np.random.Generator, rows: int, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Covariate shift only: the features move, P(y | x) stays the logistic of the true coefficients."""
    x = rng.normal(size=(rows, 4)) + shift
    x[:, 2] = x[:, 2] * (1 + 0.5 * shift[2])  # a wider spread too, not only a mean move
    probability = 1 / (1 + np.exp(-(x @ COEFFICIENTS - 0.3)))
    y = np.where(rng.random(rows) < probability, "1", "0").astype(object)
    return x, y


@pytest.fixture(scope="module")
def classifier() -> tuple[LogisticRegression, dict]:
    rng = np.random.default_rng(7)
    train_x, train_y = draw(rng, 4000, NO_SHIFT)
    model = LogisticRegression().fit(train_x, train_y)
    holdout_x, holdout_y = draw(rng, 3000, NO_SHIFT)
    predicted = model.predict(holdout_x)
    reference = {
        "accuracy": float(np.mean(predicted == holdout_y)),
        "f1": f1_score(holdout_y, predicted, pos_label="1"),
    }
    estimator, why = fit_estimator(model, holdout_x.astype(object), holdout_y, CLASS_SCHEMA, reference, seed=0)
    assert why == "" and estimator["calibration"]["method"] == "isotonic"  # 3,000 rows: isotonic, recorded
    return model, json.loads(json.dumps(estimator))  # as stored: plain JSON


def estimate_window(model, estimator, x: np.ndarray) -> dict:
    """What the drift check does with a window: served probabilities and labels in, the judged estimate out."""
    probabilities, labels = model.predict_proba(x), model.predict(x)
    records = [
        {"prediction": label, "probabilities": {"0": float(p[0]), "1": float(p[1])}}
        for label, p in zip(labels, probabilities, strict=True)
    ]
    feeder = EstimateFeeder(estimator)
    feeder.add(records, [{} for _ in records])
    return judge_estimated(feeder, estimator, "", {"status": "no_labels"}, MonitoringConfig())


SHIFTS = [np.array([a, b, c, 0.0]) for a in (0.0, 0.6, 1.2) for b in (-0.8, 0.0, 0.8) for c in (0.0, 1.0)]


def test_cbpe_holds_the_true_accuracy_of_covariate_shifted_windows_within_its_interval(classifier):
    model, estimator = classifier
    rng = np.random.default_rng(11)
    covered = {"accuracy": [], "f1": [], "roc_auc": []}
    errors, true_accuracies = [], []
    for window, shift in enumerate(SHIFTS * 3):  # 54 windows of 1,000 rows, true accuracy from 0.76 to 0.92
        x, y = draw(rng, 1000, shift)
        predicted = model.predict(x)
        truth = {
            "accuracy": float(np.mean(predicted == y)),
            "f1": f1_score(y, predicted, pos_label="1"),
            "roc_auc": roc_auc_score(y == "1", model.predict_proba(x)[:, 1]),
        }
        result = estimate_window(model, estimator, x)
        assert result["status"] in ("ok", "degraded"), (window, result["reason"])
        for name, truth_value in truth.items():
            estimate = result["metrics"][name]
            covered[name].append(estimate["low"] <= truth_value <= estimate["high"])
        errors.append(abs(result["metrics"]["accuracy"]["value"] - truth["accuracy"]))
        true_accuracies.append(truth["accuracy"])
        matrix = result["confusion_matrix"]
        assert sum(matrix.values()) == pytest.approx(1000)
    # The shifts moved the truth (the test is not of one accuracy), and the estimate followed it
    assert max(true_accuracies) - min(true_accuracies) > 0.08
    for name, hits in covered.items():  # the stated bound: the truth within the 95% interval in >= 90% of windows
        assert np.mean(hits) >= 0.90, (name, np.mean(hits))
    assert np.mean(errors) < 0.015 and max(errors) < 0.05


def test_windows_like_the_holdout_raise_no_alarm_and_a_real_drop_does(classifier):
    model, estimator = classifier
    rng = np.random.default_rng(12)
    for rows in (100, 300, 1000, 5000):
        for _ in range(5):
            x, _ = draw(rng, rows, NO_SHIFT)
            result = estimate_window(model, estimator, x)
            assert result["status"] == "ok" and not result["degraded"], (rows, result["reason"])
    # A shift that costs more than the tolerance (max_metric_drop 0.05) is degraded, beyond the window's interval
    x, y = draw(rng, 2000, NO_SHIFT)
    x[:, :2] *= 0.25  # the informative features squeezed towards the boundary: the model is unsure everywhere
    result = estimate_window(model, estimator, x)
    truth = float(np.mean(model.predict(x) == y))
    assert truth < estimator["reference"]["accuracy"] - 0.05  # the generator did cost accuracy
    assert result["degraded"] and result["status"] == "degraded"
    assert "estimated accuracy" in result["reason"]


def test_too_few_rows_or_no_probabilities_are_not_estimated(classifier):
    model, estimator = classifier
    x, _ = draw(np.random.default_rng(3), 50, NO_SHIFT)
    assert estimate_window(model, estimator, x)["status"] == "insufficient_data"
    feeder = EstimateFeeder(estimator)
    feeder.add([{"prediction": "1"}] * 200, [{}] * 200)  # captured without probabilities
    result = judge_estimated(feeder, estimator, "", {}, MonitoringConfig())
    assert result["status"] == "insufficient_data" and feeder.unusable == 200 and "without served" in result["reason"]
    assert judge_estimated(None, None, "no estimator", {}, MonitoringConfig())["status"] == "unavailable"


def test_a_small_holdout_is_calibrated_with_platt_and_estimates_still_track(classifier):
    model, _ = classifier
    rng = np.random.default_rng(5)
    holdout_x, holdout_y = draw(rng, 400, NO_SHIFT)
    estimator, _ = fit_estimator(model, holdout_x.astype(object), holdout_y, CLASS_SCHEMA, {"accuracy": 0.8}, seed=0)
    assert estimator["calibration"]["method"] == "sigmoid"
    x, y = draw(rng, 2000, np.array([1.0, 0.0, 0.0, 0.0]))
    result = estimate_window(model, estimator, x)
    assert abs(result["metrics"]["accuracy"]["value"] - np.mean(model.predict(x) == y)) < 0.03


def test_the_endpoint_capture_holds_the_served_probabilities_the_estimate_reads():
    # Given rows answered by the predict handler and captured (as the endpoint writes them to the log → Firehose)
    rng = random.Random(0)
    instances = [good_row(rng) for _ in range(150)]
    status, body, captured = call({"instances": instances})
    assert status == 200
    records = [record for document in captured for record in records_of(document)]
    # Then every captured record carries the probabilities it was served with, by class
    assert all(set(record["probabilities"]) == {"no", "yes"} for record in records)
    answered = [p["probabilities"]["yes"] for p in body["predictions"]]
    assert [record["probabilities"]["yes"] for record in records] == answered
    # And all of them feed a classifier's estimate
    estimator = {"task": "classification", "calibration": {"classes": ["no", "yes"], "positive_class": "yes"}}
    feeder = EstimateFeeder(estimator)
    feeder.add(records, [r["features"] for r in records])
    assert (feeder.rows, feeder.unusable) == (150, 0)


# ---- regressors: direct loss estimation -------------------------------------------------------------------------
REGRESSION_SCHEMA = Schema(
    features=[Feature("x0", "numeric"), Feature("x1", "numeric"), Feature("plan", "categorical")],
    target="y",
    task="regression",
)


def regression_draw(rng: np.random.Generator, rows: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Noise that grows with |x1|: moving x1 away from 0 makes the same model worse."""
    x0, x1 = rng.normal(size=rows), rng.normal(size=rows) + shift
    y = 3 * x0 + x1 + rng.normal(size=rows) * (0.3 + 0.8 * np.abs(x1))
    plan = rng.choice(["basic", "pro"], rows).astype(object)
    return np.column_stack([x0, x1, plan]).astype(object), y


def test_dle_tracks_the_true_mae_of_shifted_windows_and_its_trees_equal_scikit_learns():
    rng = np.random.default_rng(21)
    train_x, train_y = regression_draw(rng, 3000, 0.0)
    model = LinearRegression().fit(train_x[:, :2].astype(float), train_y)

    class OnNumbers:  # the pipeline's role: the model takes the object matrix
        def predict(self, x):
            return model.predict(np.asarray(x[:, :2], dtype=float))

    holdout_x, holdout_y = regression_draw(rng, 3000, 0.0)
    holdout_mae = float(np.mean(np.abs(OnNumbers().predict(holdout_x) - holdout_y)))
    estimator, _ = fit_estimator(OnNumbers(), holdout_x, holdout_y, REGRESSION_SCHEMA, {"mae": holdout_mae}, seed=0)
    estimator = json.loads(json.dumps(estimator))
    assert estimator["loss_model"]["features"] == ["x0", "x1", "prediction"]  # numeric features + the prediction
    errors, covered, alarms = [], [], []
    for shift in [0.0, 0.0, 0.0, 0.5, 1.0, 1.5, 2.0] * 4:
        x, y = regression_draw(rng, 1000, shift)
        predictions = OnNumbers().predict(x)
        truth = float(np.mean(np.abs(predictions - y)))
        feeder = EstimateFeeder(estimator)
        features = [{"x0": float(a), "x1": float(b), "plan": p} for a, b, p in x]
        feeder.add([{"prediction": float(p)} for p in predictions], features)
        result = judge_estimated(feeder, estimator, "", {}, MonitoringConfig())
        mae = result["metrics"]["mae"]
        errors.append(abs(mae["value"] - truth) / truth)
        covered.append(mae["low"] <= truth <= mae["high"])
        alarms.append((shift, result["degraded"]))
    assert np.mean(errors) < 0.08  # relative error of the estimated MAE
    assert np.mean(covered) >= 0.85  # measured 25 of 28 (0.89): the interval holds sampling, not the loss model's bias
    assert not any(degraded for shift, degraded in alarms if shift == 0.0)
    assert all(degraded for shift, degraded in alarms if shift >= 1.5)  # the MAE rose well over 25%


def test_the_exported_loss_model_predicts_what_scikit_learn_does_with_missing_values():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2000, 3))
    x[rng.random(x.shape) < 0.1] = np.nan
    y = np.abs(np.nan_to_num(x[:, 0]) * 2 + rng.normal(size=2000))
    with threadpool_limits(limits=1, user_api="openmp"):  # a small fit: threads only contend
        model = HistGradientBoostingRegressor(max_iter=30, max_depth=3, early_stopping=False, random_state=0).fit(x, y)
    exported = json.loads(json.dumps(export_trees(model)))
    assert np.allclose(predict_trees(exported, x), model.predict(x), atol=1e-9)


def test_a_saturated_model_whose_scores_repeat_still_gets_a_finite_curve():
    # Given a model sure of most rows (4 in 10 scores exactly 1.0, as a deep tree ensemble gives on easy data)
    rng = np.random.default_rng(8)
    scores = np.where(rng.random(4000) < 0.4, 1.0, rng.random(4000))
    labels = np.where(rng.random(4000) < scores, "1", "0").astype(object)
    estimator = classifier_estimator(np.column_stack([1 - scores, scores]), labels, ["0", "1"], "1", {})
    curve = estimator["calibration"]["curves"]["1"]
    # Then the stored curve is JSON (no NaN), increasing, one point per distinct bin score, and maps 1.0 near 1
    json.dumps(estimator, allow_nan=False)
    assert np.all(np.diff(curve["x"]) > 0) and np.all(np.diff(curve["y"]) >= 0)
    assert sum(curve["step_rows"]) == 4000
    assert calibrate(curve, np.array([1.0]))[0] > 0.95
