"""Each step handler on its event file (events/<function>/*.json) against the template's resources on moto."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from functions.approval import app as approval_app
from functions.batch import app as batch_app
from functions.deploy import app as deploy_app
from functions.drift import app as drift_app
from functions.evaluate import app as evaluate_app
from functions.plan_trials import app as plan_trials_app
from functions.prepare import app as prepare_app
from functions.record_failure import app as record_failure_app
from functions.register import app as register_app
from functions.reproduce import app as reproduce_app
from functions.train import app as train_app
from mlops.data import dataset as tables
from mlops.data import typed_table
from mlops.errors import InvalidDataset, InvalidStepInput, InvalidTrainingRequest, NoCandidateTrained
from mlops.settings import MissingSetting
from mlops.storage import objects
from mlops.storage.objects import S3Uri
from tests.conftest import load_event

TRAIN_CASES = ("logistic_regression", "random_forest", "hist_gradient_boosting")


@pytest.fixture
def prepared(stack, breast_cancer_uri, lambda_context) -> dict:
    return prepare_app.lambda_handler(load_event("prepare", "breast_cancer"), lambda_context)


@pytest.fixture
def trained(prepared, lambda_context) -> list[dict]:
    results = []
    for case in TRAIN_CASES:
        event = load_event("train", case)
        event["dataset"] = prepared["dataset"]
        results.append(train_app.lambda_handler(event, lambda_context))
    return results


def test_prepare_stores_splits_and_baseline(stack, prepared, breast_cancer_uri):
    dataset = prepared["dataset"]
    sizes = dataset["split_sizes"]
    assert sum(sizes.values()) == dataset["rows"] == 569
    splits = dataset["splits"].items()
    stored = {name: typed_table.from_npz(objects.get_bytes(S3Uri.parse(uri))) for name, uri in splits}
    for name, table in stored.items():
        assert table.rows == sizes[name]
        assert table.names == stored["train"].names and "target" in table.names
    # the splits partition the rows: every row of the data set is in exactly one split
    first = "mean radius"
    together = np.sort(np.concatenate([t.column(first).values for t in stored.values()]))
    source = tables.read_table(objects.get_bytes(S3Uri.parse(breast_cancer_uri)))
    np.testing.assert_array_equal(together, np.sort(source.column(first).values))
    baseline = objects.get_json(S3Uri.parse(dataset["baseline_uri"]))
    schema = objects.get_verified_json(dataset["schema"]["uri"], dataset["schema"]["sha256"])
    assert set(baseline["features"]) == {f["name"] for f in schema["features"]}
    assert dataset["schema_summary"]["features"] == len(schema["features"]) == 30
    assert baseline["rows"] == sizes["train"]
    # the request comes back normalised: task inferred, default candidates and gate filled in
    assert prepared["request"]["task"] == "classification"
    assert len(prepared["request"]["candidates"]) == 3
    assert prepared["request"]["gate"] == {
        "metric": "f1",
        "min_score": 0.9,
        "min_improvement": 0.001,
        "block_on_leakage": False,
        "bootstrap": None,
    }


def test_prepare_event_file_matches_the_generated_train_events(prepared):
    # The stored train events were captured from a real run: the dataset they carry is what prepare makes.
    stored = load_event("train", "random_forest")["dataset"]
    assert stored["splits"] == prepared["dataset"]["splits"]
    assert stored["sha256"] == prepared["dataset"]["sha256"]
    assert stored["schema"] == prepared["dataset"]["schema"]


def test_prepare_rejects_an_unknown_target(stack, breast_cancer_uri, lambda_context):
    with pytest.raises(InvalidDataset, match="'diagnosis' is not in the dataset"):
        prepare_app.lambda_handler(load_event("prepare", "unknown_target"), lambda_context)
    listed = stack.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix="runs/")
    assert listed.get("KeyCount", 0) == 0  # nothing stored for a refused request


def test_prepare_rejects_an_estimator_outside_the_allow_list(stack, breast_cancer_uri, lambda_context):
    event = load_event("prepare", "breast_cancer")
    event["request"]["candidates"] = [{"estimator": "os.system", "params": {}}]
    with pytest.raises(InvalidTrainingRequest, match="not allowed"):
        prepare_app.lambda_handler(event, lambda_context)


ARN = "arn:aws:states:us-east-1:123456789012:execution:mlops-TrainingPipeline:run"


@pytest.mark.parametrize(
    ("handler", "step"),
    [
        (prepare_app, None),
        (plan_trials_app, None),
        (train_app, None),
        (evaluate_app, None),
        (register_app, None),
        (deploy_app, "deploy"),
        (deploy_app, "undo_deployment"),
        (approval_app, "await_approval"),
        (approval_app, "record_approval_timeout"),
        (record_failure_app, None),
        (reproduce_app, None),
    ],
)
def test_every_handler_names_a_malformed_event(stack, handler, step, lambda_context):
    event = {"execution_arn": 42} if step is None else {"step": step, "execution_arn": 42}
    with pytest.raises(InvalidStepInput, match="execution_arn"):
        handler.lambda_handler(event, lambda_context)


@pytest.mark.parametrize("handler", [deploy_app, approval_app, batch_app, drift_app])
@pytest.mark.parametrize("event", [{"execution_arn": ARN}, {"step": "no_such_step"}, {"step": 7}])
def test_a_function_with_several_jobs_names_a_missing_or_unknown_step(stack, handler, event, lambda_context):
    # One explicit dispatch: the event's ``step`` says which job; without one, or with one the function does not
    # have, nothing runs and the error names the step.
    with pytest.raises(InvalidStepInput, match="step"):
        handler.lambda_handler(event, lambda_context)


@pytest.mark.parametrize(
    ("event", "named"),
    [
        ({}, "step"),  # no step named
        ({"step": "plan", "start": {"job_id": "not-a-job", "model_name": "m", "request": {}}}, "job_id"),
        ({"step": "score", "item": {"chunk": 0}}, "job"),
        ({"step": "finish", "job": {"job_id": 1}}, "job_id"),
        ({"step": "record_failure", "state": [], "end_state": "ChunkFailed"}, "state"),
    ],
)
def test_the_batch_function_names_a_malformed_step_event(stack, event, named, lambda_context):
    with pytest.raises(InvalidStepInput, match=named):
        batch_app.lambda_handler(event, lambda_context)


@pytest.mark.parametrize(
    ("event", "named"),
    [({}, "step"), ({"step": "serve_version", "model_name": "m", "version": 0, "columns": []}, "version")],
)
def test_the_scikit_learn_predict_function_names_a_malformed_event(stack, event, named, lambda_context):
    from functions.predict_sklearn import app as predict_sklearn_app  # noqa: PLC0415 - imports scikit-learn

    with pytest.raises(InvalidStepInput, match=named):
        predict_sklearn_app.lambda_handler(event, lambda_context)


def test_a_missing_setting_fails_fast(stack, monkeypatch, lambda_context):
    monkeypatch.delenv("REGISTRY_TABLE")
    with pytest.raises(MissingSetting, match="REGISTRY_TABLE"):
        deploy_app.lambda_handler(load_event("deploy", "breast_cancer"), lambda_context)


def test_train_stores_an_artifact_that_hashes_to_its_digest(trained):
    for result in trained:
        payload = objects.get_bytes(S3Uri.parse(result["artifact_uri"]))
        assert objects.sha256_hex(payload) == result["artifact_sha256"]
        assert result["status"] == "trained"
        assert set(result["validation_metrics"]) == {
            "accuracy",
            "balanced_accuracy",
            "f1",
            "roc_auc",
            "average_precision",
            "log_loss",
        }


def test_evaluate_register_and_deploy_chain(stack, prepared, trained, lambda_context):
    execution_arn = load_event("evaluate", "breast_cancer")["execution_arn"]
    evaluation = evaluate_app.lambda_handler(
        {
            "request": prepared["request"],
            "dataset": prepared["dataset"],
            "candidates": trained,
            "execution_arn": execution_arn,
        },
        lambda_context,
    )
    best = max(trained, key=lambda c: c["validation_metrics"]["f1"])
    assert evaluation["winner"]["validation_metrics"]["f1"] == best["validation_metrics"]["f1"]
    assert evaluation["gate"]["passed"] is True
    assert evaluation["champion"] is None

    registration = register_app.lambda_handler(
        {
            "request": prepared["request"],
            "dataset": prepared["dataset"],
            "evaluation": evaluation,
            "execution_arn": execution_arn,
        },
        lambda_context,
    )
    assert (registration["version"], registration["status"]) == (1, "Registered")

    deployment = deploy_app.lambda_handler(load_event("deploy", "breast_cancer"), lambda_context)
    assert deployment == {"alias": "production", "version": 1, "previous_version": None, "changed": True}
    again = deploy_app.lambda_handler(load_event("deploy", "breast_cancer"), lambda_context)
    assert again["changed"] is False  # a retried deploy is a no-op
    assert stack.registry().get_alias("breast-cancer").version == 1


def test_stored_events_follow_the_step_contracts():
    # Shapes for `sam local invoke -e`: each stored event validates against its step's event model.
    from mlops.records import events as contracts  # noqa: PLC0415

    pairs = [
        ("prepare", "breast_cancer", contracts.PrepareEvent),
        ("evaluate", "breast_cancer", contracts.EvaluateEvent),
        ("register", "breast_cancer", contracts.RegisterEvent),
        ("deploy", "breast_cancer", contracts.DeployEvent),
    ]
    pairs += [("train", case, contracts.TrainEvent) for case in TRAIN_CASES]
    for function, case, model in pairs:
        contracts.parse_event(model, load_event(function, case))


def test_evaluate_without_any_trained_candidate_is_a_named_failure(stack, lambda_context):
    event = copy.deepcopy(load_event("evaluate", "breast_cancer"))
    del event["trials"]  # the inline form: the failed records in the event itself
    event["candidates"] = [
        {
            "status": "failed",
            "index": i,
            "estimator": c["estimator"],
            "params": c["params"],
            "error": "ValueError",
            "cause": json.dumps({"errorMessage": "boom"}),
        }
        for i, c in enumerate(event["request"]["candidates"])
    ]
    with pytest.raises(NoCandidateTrained, match="none of the 3 candidates trained"):
        evaluate_app.lambda_handler(event, lambda_context)
