"""The drift check with a version that carries its performance estimator and its permutation importance (fitted by
the training code on a holdout), on the embedded AWS: no alarm on a window like the holdout, an estimated drop that
starts one retraining and none within the cooldown, estimated and realised performance side by side once labels
arrive, and drifted features ranked by what the model relies on."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from local.stack import LocalStack
from mlops.data.baseline import categorical_baseline
from mlops.monitoring import reports
from mlops.monitoring.check import run_check
from mlops.monitoring.feedback import accept_feedback
from mlops.monitoring.reference import baseline_of_columns
from mlops.monitoring.store import MonitoringStore
from mlops.records.schema import Feature, Schema
from mlops.registry import documents
from mlops.storage import objects
from mlops.storage.objects import S3Uri
from mlops.training import importance
from mlops.training.estimator import fit_estimator
from tests.factories import version_content
from tests.unit.test_drift_monitoring import CLOCK, DEFAULTS, TRAINING_REQUEST
from tests.unit.test_estimated_performance import COEFFICIENTS, draw

MODEL = "churn"
FEATURES = [f"x{i}" for i in range(4)]  # x3 is noise: the model ignores it
SCHEMA = Schema(
    features=[Feature(name, "numeric") for name in FEATURES],
    target="y",
    task="classification",
    classes=["0", "1"],
    positive_class="1",
)


@pytest.fixture(scope="module")
def trained() -> tuple[LogisticRegression, dict, dict, np.ndarray]:
    rng = np.random.default_rng(31)
    train_x, train_y = draw(rng, 4000, np.zeros(4))
    model = LogisticRegression().fit(train_x, train_y)
    holdout_x, holdout_y = draw(rng, 3000, np.zeros(4))
    reference = {"accuracy": float(np.mean(model.predict(holdout_x) == holdout_y))}
    estimator, _ = fit_estimator(model, holdout_x.astype(object), holdout_y, SCHEMA, reference, seed=0)
    effects = importance.measure(model, holdout_x.astype(object), holdout_y, SCHEMA, seed=0)
    return model, estimator, effects.to_document(), train_x


@pytest.fixture
def deployed(stack: LocalStack, trained) -> int:
    model, estimator, effects, train_x = trained
    schema = SCHEMA.to_dict()
    statistics = baseline_of_columns({name: train_x[:, i] for i, name in enumerate(FEATURES)})
    predictions = categorical_baseline(np.asarray(model.predict(train_x[:1000]), dtype=object))
    baseline_uri = S3Uri(stack.bucket, f"baselines/{MODEL}/{uuid.uuid4().hex}.json")
    objects.put_json(baseline_uri, {"features": {"rows": 4000, "features": statistics}, "predictions": predictions})
    uri, digest = documents.store(stack.bucket, MODEL, "performance_estimator", estimator)
    record = version_content(
        schema=schema,
        metrics=estimator["reference"],
        baseline_uri=str(baseline_uri),
        training_request=TRAINING_REQUEST,
        performance_estimator_uri=uri,
        performance_estimator_sha256=digest,
        feature_importance=effects,
    )
    registry = stack.registry()
    version, _ = registry.register_version(MODEL, record, status="Registered", run_id="r1", actor="tests", reason="t")
    registry.set_alias(MODEL, version, actor="tests", reason="tests")
    return version


def serve(stack: LocalStack, model, version: int, x: np.ndarray) -> list[str]:
    """Capture as the endpoint writes it: each row's features, prediction and served probabilities."""
    now = CLOCK.tick()
    ids = [f"{uuid.uuid4().hex}:{i}" for i in range(len(x))]
    labels, probabilities = model.predict(x), model.predict_proba(x)
    records = [
        {
            "inference_id": ids[i],
            "version": version,
            "prediction": str(labels[i]),
            "probabilities": {"0": float(probabilities[i, 0]), "1": float(probabilities[i, 1])},
            "features": {name: float(x[i, j]) for j, name in enumerate(FEATURES)},
        }
        for i in range(len(x))
    ]
    lines = [
        json.dumps(
            {
                "capture": "mlops.capture.v1",
                "model_name": MODEL,
                "version": version,
                "timestamp": now,
                "records": records[start : start + 100],
            }
        )  # fmt: skip
        for start in range(0, len(records), 100)
    ]
    day = datetime.fromtimestamp(now, UTC).date().isoformat()
    stack.client("s3").put_object(
        Bucket=stack.bucket, Key=f"capture/{MODEL}/dt={day}/s-{uuid.uuid4()}", Body="\n".join(lines).encode()
    )
    return ids


def check(stack: LocalStack) -> tuple[dict, dict]:
    return run_check(
        MODEL,
        check_id=f"check-{uuid.uuid4().hex[:8]}",
        bucket=stack.bucket,
        registry=stack.registry(),
        store=MonitoringStore(stack.monitor_table),
        defaults=DEFAULTS,
        now=CLOCK.tick(),
    )


def test_a_window_like_the_holdout_is_estimated_ok_and_raises_nothing(stack, deployed, trained):
    model = trained[0]
    x, _ = draw(np.random.default_rng(1), 800, np.zeros(4))
    serve(stack, model, deployed, x)

    report, output = check(stack)

    estimated = report["estimated_performance"]
    assert (estimated["status"], estimated["method"], estimated["calibration"]) == ("ok", "cbpe", "isotonic")
    assert estimated["rows"] == 800 and not estimated["degraded"]
    accuracy = estimated["metrics"]["accuracy"]
    assert accuracy["low"] < estimated["reference"]["accuracy"] < accuracy["high"]
    assert output["estimated_performance"] == "ok" and output["retrain"]["start"] is False and not output["notify"]
    assert "Estimated performance" in objects.get_bytes(S3Uri.parse(report["html_uri"])).decode()


def test_an_estimated_drop_starts_one_retraining_and_none_within_the_cooldown(stack, deployed, trained):
    model = trained[0]
    rng = np.random.default_rng(2)
    x, _ = draw(rng, 800, np.zeros(4))
    x[:, :2] *= 0.25  # rows near the decision boundary: the model is unsure, its accuracy falls well below 0.8
    serve(stack, model, deployed, x)

    report, output = check(stack)

    assert report["estimated_performance"]["status"] == "degraded"
    assert report["monitoring"]["estimated_performance_degraded"] is True
    assert output["retrain"]["start"] is True and "estimated performance degraded" in output["retrain"]["reason"]
    assert output["notify"] and "estimated_performance_degraded" in report["monitoring"]["new_signals"]

    x, _ = draw(rng, 800, np.zeros(4))
    x[:, :2] *= 0.25
    serve(stack, model, deployed, x)
    report, output = check(stack)
    assert report["estimated_performance"]["degraded"] and output["retrain"]["start"] is False
    assert "cooldown" in output["retrain"]["reason"]


def test_labels_put_estimated_and_realised_performance_side_by_side(stack, deployed, trained):
    model = trained[0]
    x, y = draw(np.random.default_rng(3), 600, np.array([1.0, 0.0, 0.0, 0.0]))
    ids = serve(stack, model, deployed, x)
    labels = [{"inference_id": i, "label": str(a)} for i, a in zip(ids, y, strict=True)]
    accept_feedback(stack.registry(), stack.bucket, MODEL, labels, actor="tests")

    report, _ = check(stack)

    accuracy = report["estimated_performance"]["side_by_side"]["accuracy"]
    realised = float(np.mean(model.predict(x) == y))
    assert accuracy["realised"] == pytest.approx(realised)
    assert accuracy["holdout"] == report["estimated_performance"]["reference"]["accuracy"]
    assert abs(accuracy["estimated"] - realised) < 0.05 and accuracy["realised_within_interval"] is True


def test_drift_in_a_feature_the_model_ignores_is_shown_as_such(stack, deployed, trained):
    model = trained[0]
    x, _ = draw(np.random.default_rng(4), 800, np.array([1.5, 0.0, 0.0, 2.0]))  # x0 relied on, x3 ignored

    serve(stack, model, deployed, x)
    report, _ = check(stack)

    ranking = report["drift_by_importance"]
    assert {"x0", "x3"} <= set(report["drifted_features"])
    assert [item["feature"] for item in ranking["features"]][0] == "x0"  # the most important drifted first
    assert "x0" in ranking["relied_on"] and "x3" in ranking["ignored"]
    assert "ignores 1 (x3)" in ranking["summary"]
    assert "By importance" in reports.notification(report, {"start": False}, [])["message"]
    assert COEFFICIENTS[3] == 0  # the generator's truth: x3 does not move the label
