"""The real TrainingPipeline ASL executed by moto's interpreter, with the real handlers run in-process."""

from __future__ import annotations

import pytest

from local.runs.datasets import diabetes_csv
from local.runs.training import error_message, run_training
from mlops.errors import ModelNotFound
from mlops.registry import documents
from mlops.registry.store import ModelRegistry
from mlops.storage import objects
from mlops.storage.objects import S3Uri
from tests.conftest import upload

pytestmark = pytest.mark.integration

FAST_CANDIDATES = [
    {"estimator": "logistic_regression", "params": {"C": 1.0, "max_iter": 2000}},
    {"estimator": "random_forest", "params": {"n_estimators": 30, "min_samples_leaf": 2}},
    {"estimator": "decision_tree", "params": {"max_depth": 1}},
]


def _request(dataset_uri: str, **overrides) -> dict:
    return {
        "model_name": "bc",
        "dataset_uri": dataset_uri,
        "target": "target",
        "candidates": FAST_CANDIDATES,
        "gate": {"metric": "f1", "min_score": 0.8},
        "requested_by": "tests",
        **overrides,
    }


def _objects(stack, prefix: str) -> list[str]:
    listed = stack.client("s3").list_objects_v2(Bucket=stack.bucket, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def test_happy_path_registers_and_deploys(stack, breast_cancer_uri):
    result = run_training(stack, _request(breast_cancer_uri))

    assert result.status == "SUCCEEDED", result.cause
    assert result.end_state == "Deployed"
    assert result.states[:3] == ["Prepare", "PlanTrials", "TrainTrials"]
    registry = stack.registry()
    record = registry.get_version("bc", 1)
    assert record.status == "Registered"
    assert registry.get_alias("bc").version == 1
    # the registered artifact is content-addressed and its bytes hash to the recorded digest
    digest = record.artifact_sha256
    assert record.artifact_uri == f"s3://{stack.bucket}/models/bc/{digest}.joblib"
    assert objects.sha256_hex(objects.get_bytes(S3Uri.parse(record.artifact_uri))) == digest
    baseline = objects.get_json(S3Uri.parse(record.baseline_uri))
    assert set(baseline["features"]["features"]) == {f["name"] for f in documents.schema_of(record)["features"]}
    # lineage: the data, the split, the run and the libraries
    lineage = record.lineage
    assert lineage.data_sha256 == objects.sha256_hex(objects.get_bytes(S3Uri.parse(breast_cancer_uri)))
    assert lineage.execution_arn == result.execution_arn
    assert lineage.split["seed"] == 42
    assert sum(lineage.split["sizes"].values()) == 569
    assert {"python", "scikit-learn", "numpy", "scipy", "joblib"} <= set(lineage.libraries)
    summary = result.summary()
    assert summary["deployed"] is True
    assert summary["version"] == 1
    assert summary["metrics"] == record.metrics


def test_the_map_over_candidates_picks_the_best_on_validation(stack, breast_cancer_uri):
    result = run_training(stack, _request(breast_cancer_uri))

    leaderboard = result.summary()["leaderboard"]
    assert [row["estimator"] for row in leaderboard] == [c["estimator"] for c in FAST_CANDIDATES]
    assert all(row["status"] == "trained" for row in leaderboard)
    best = max(leaderboard, key=lambda row: (row["validation_metrics"]["f1"], -row["index"]))
    assert result.summary()["winner"] == best["estimator"]
    # a depth-1 stump is never the winner against these
    assert result.summary()["winner"] != "decision_tree"


def test_an_identical_second_run_is_recorded_as_rejected_and_not_promoted(stack, breast_cancer_uri):
    first = run_training(stack, _request(breast_cancer_uri))
    second = run_training(stack, _request(breast_cancer_uri))

    assert first.end_state == "Deployed"
    assert second.status == "SUCCEEDED"
    assert second.end_state == "NotPromoted"
    gate = second.summary()["gate"]
    assert gate["passed"] is False
    assert gate["champion_version"] == 1
    assert gate["challenger_score"] == gate["champion_score"]  # same data, seed and candidates: same model
    registry = stack.registry()
    assert [(v.version, v.status) for v in registry.list_versions("bc")] == [(1, "Registered"), (2, "Rejected")]
    assert registry.get_alias("bc").version == 1
    assert registry.get_version("bc", 2).gate["reasons"]  # the rejection explains itself
    assert [e.event_type for e in registry.list_events("bc")] == [
        "VersionRegistered",
        "AliasMoved",
        "VersionRejected",
    ]


def test_a_failing_register_step_ends_in_its_named_state_with_nothing_registered(stack, breast_cancer_uri, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("DynamoDB is down")

    monkeypatch.setattr(ModelRegistry, "register_version", fail)
    result = run_training(stack, _request(breast_cancer_uri))

    assert result.status == "FAILED"
    assert result.end_state == "RegistrationFailed"
    assert result.error == "RuntimeError"
    assert error_message(result.cause) == "DynamoDB is down"
    registry = stack.registry()
    with pytest.raises(ModelNotFound):
        registry.get_model("bc")
    assert registry.list_versions("bc") == []
    assert registry.get_alias("bc") is None
    assert _objects(stack, "models/bc/")  # the content-addressed artifact may exist; no record points at it


def test_a_failing_evaluate_step_ends_in_pipeline_failed(stack, breast_cancer_uri, monkeypatch):
    from mlops.training import evaluation  # noqa: PLC0415

    def broken_gate(*args, **kwargs):
        raise ZeroDivisionError("gate arithmetic")

    monkeypatch.setattr(evaluation, "gate", broken_gate)
    result = run_training(stack, _request(breast_cancer_uri))

    assert (result.status, result.end_state, result.error) == ("FAILED", "PipelineFailed", "ZeroDivisionError")
    assert stack.registry().list_versions("bc") == []


def test_a_failing_deploy_leaves_the_version_registered_and_the_alias_unmoved(stack, breast_cancer_uri, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError("not allowed to move production")

    monkeypatch.setattr(ModelRegistry, "set_alias", refuse)
    result = run_training(stack, _request(breast_cancer_uri))

    assert (result.status, result.end_state) == ("FAILED", "DeploymentFailed")
    registry = stack.registry()
    assert registry.get_version("bc", 1).status == "Registered"
    assert registry.get_alias("bc") is None


def test_bad_data_ends_in_invalid_input(stack, breast_cancer_uri):
    result = run_training(stack, _request(breast_cancer_uri, target="diagnosis"))

    assert (result.status, result.end_state, result.error) == ("FAILED", "InvalidInput", "InvalidDataset")
    assert "'diagnosis' is not in the dataset" in error_message(result.cause)
    assert _objects(stack, "runs/") == []


def test_a_failed_candidate_is_recorded_and_the_others_go_on(stack, breast_cancer_uri):
    candidates = [*FAST_CANDIDATES[:2], {"estimator": "logistic_regression", "params": {"C": -1.0}}]
    result = run_training(stack, _request(breast_cancer_uri, candidates=candidates))

    assert result.end_state == "Deployed"
    leaderboard = result.summary()["leaderboard"]
    assert [row["status"] for row in leaderboard] == ["trained", "trained", "failed"]
    assert leaderboard[2]["error"] == "CandidateTrainingFailed"


def test_no_trained_candidate_ends_in_its_named_state(stack, breast_cancer_uri):
    candidates = [
        {"estimator": "logistic_regression", "params": {"C": -1.0}},
        {"estimator": "random_forest", "params": {"n_estimators": 0}},
    ]
    result = run_training(stack, _request(breast_cancer_uri, candidates=candidates))

    assert (result.status, result.end_state, result.error) == ("FAILED", "NoCandidateTrained", "NoCandidateTrained")
    assert stack.registry().list_versions("bc") == []


def test_a_regression_model_on_a_dataset_it_has_never_seen(stack):
    uri = upload(stack, "datasets/diabetes.csv", diabetes_csv())
    result = run_training(
        stack,
        {
            "model_name": "diabetes",
            "dataset_uri": uri,
            "target": "progression",
            "gate": {"metric": "r2", "min_score": 0.2},
            "candidates": [
                {"estimator": "ridge", "params": {"alpha": 1.0}},
                {"estimator": "random_forest", "params": {"n_estimators": 30}},
            ],
        },
    )

    assert result.end_state == "Deployed", result.cause
    record = stack.registry().get_version("diabetes", 1)
    assert record.task == "regression"
    assert set(record.metrics) == {"rmse", "mae", "r2"}
    assert record.metrics["r2"] >= 0.2
