"""Training past Lambda: the real TrainingPipeline with its Map's candidates on SageMaker training jobs, emulated
in-process (local/sagemaker_training.py) with the same entry point, S3 keys and DescribeTrainingJob results."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator

import pytest

from local import sagemaker_training
from local.datasets import breast_cancer_csv
from local.stack import LocalStack
from local.training_runs import execution_history, run_training
from mlops.governance.lineage import library_versions, run_id_of
from mlops.storage import layout, objects
from mlops.storage.objects import S3Uri
from mlops.training import job as training_job
from tests.conftest import upload

pytestmark = pytest.mark.integration

CANDIDATES = [
    {"estimator": "logistic_regression", "params": {"C": 1.0, "max_iter": 2000}},
    {"estimator": "decision_tree", "params": {"max_depth": 2}},
]


def _request(dataset_uri: str, **overrides) -> dict:
    return {
        "model_name": "bc",
        "dataset_uri": dataset_uri,
        "target": "target",
        "candidates": CANDIDATES,
        "gate": {"metric": "f1", "min_score": 0.8},
        "requested_by": "tests",
        **overrides,
    }


def _training_job_results(stack: LocalStack, execution_arn: str) -> list[dict]:
    """The raw results of the sagemaker tasks (before the TrainingJob state's ResultSelector), from the history."""
    return [
        json.loads(event["taskSucceededEventDetails"]["output"])
        for event in execution_history(stack, execution_arn)
        if event["type"] == "TaskSucceeded" and event["taskSucceededEventDetails"]["resourceType"] == "sagemaker"
    ]


@pytest.fixture
def stack_switching_early(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    """A stack whose Train function 'holds' almost nothing: every run is above its size (the automatic switch)."""
    with LocalStack(parameters={"TrainBytesPerCell": "100000000"}) as local_stack:
        for name, value in local_stack.environment().items():
            monkeypatch.setenv(name, value)
        yield local_stack


def test_the_sagemaker_path_trains_through_the_state_machine_and_registers_the_same_contract(stack, breast_cancer_uri):
    # When a run asks for SageMaker
    result = run_training(stack, _request(breast_cancer_uri, compute="sagemaker"))

    # Then every candidate went through a training job and the Train function only collected it
    assert result.status == "SUCCEEDED", result.cause
    assert result.end_state == "Deployed"
    assert result.states.count("TrainingJob") == result.states.count("CollectTrainingJob") == len(CANDIDATES)
    assert "TrainCandidate" not in result.states
    # the task's raw result is DescribeTrainingJob's document, Completed, with the job's model.tar.gz
    described = _training_job_results(stack, result.execution_arn)
    assert len(described) == len(CANDIDATES)
    run_id = run_id_of(result.execution_arn)
    names = set()
    for description in described:
        name = description["TrainingJobName"]
        names.add(name)
        assert description["TrainingJobStatus"] == "Completed"
        assert description["TrainingJobArn"].endswith(f":training-job/{name}")
        assert description == sagemaker_training.described(name)
        archive = description["ModelArtifacts"]["S3ModelArtifacts"]
        assert archive == f"s3://{stack.bucket}/runs/{run_id}/training-jobs/{name}/output/model.tar.gz"
        with tarfile.open(fileobj=io.BytesIO(objects.get_bytes(S3Uri.parse(archive)))) as tar:
            inside = json.load(tar.extractfile("candidate.json"))
        assert inside["training_job"] == name
        # the job was given the Train event in its hyperparameters, one field each
        hyperparameters = description["HyperParameters"]
        assert json.loads(hyperparameters["candidate"]) in CANDIDATES
        assert hyperparameters["execution_arn"] == result.execution_arn
    # each artifact is at the Train function's key and hashes to the digest the candidate carries
    leaderboard = result.summary()["leaderboard"]
    assert [row["compute"] for row in leaderboard] == ["sagemaker"] * len(CANDIDATES)
    for index, candidate in enumerate(CANDIDATES):
        key = layout.candidate_artifact(stack.bucket, run_id, index, candidate["estimator"])
        stored = objects.get_json(layout.candidate_result(stack.bucket, run_id, index, candidate["estimator"]))
        assert stored["candidate"]["artifact_uri"] == str(key)
        assert objects.sha256_hex(objects.get_bytes(key)) == stored["candidate"]["artifact_sha256"]
        assert stored["libraries"] == library_versions()  # the pinned libraries (the version-skew guard)
    # Evaluate and Register did what they always do: the version is the winner's bytes, content-addressed
    record = stack.registry().get_version("bc", 1)
    winner = result.output["evaluation"]["winner"]
    assert record.artifact_sha256 == winner["artifact_sha256"]
    assert objects.sha256_hex(objects.get_bytes(S3Uri.parse(record.artifact_uri))) == record.artifact_sha256
    # and the version records the engine and the job that trained it
    assert (record.lineage.compute, record.lineage.training_job) == ("sagemaker", winner["training_job"])
    assert winner["training_job"] in names
    summary = result.summary()
    assert summary["compute"] == "sagemaker"
    assert summary["compute_reason"].startswith("requested (")


def test_a_failing_training_job_is_a_failed_candidate_and_the_run_goes_on(stack, breast_cancer_uri, monkeypatch):
    # Given a job that fails after it stored its artifact (the fault after the side effect)
    real_train = training_job.train

    def train_then_fail(*args, **kwargs):
        trained = real_train(*args, **kwargs)
        if trained.estimator == "decision_tree":
            raise RuntimeError("the instance ran out of disk")
        return trained

    monkeypatch.setattr(training_job, "train", train_then_fail)

    # When the run trains on SageMaker
    result = run_training(stack, _request(breast_cancer_uri, compute="sagemaker"))

    # Then that candidate failed as Step Functions reports a failed job, and the other one won
    assert result.status == "SUCCEEDED", result.cause
    failed = [row for row in result.summary()["leaderboard"] if row["status"] == "failed"]
    assert [(row["estimator"], row["error"], row["compute"]) for row in failed] == [
        ("decision_tree", "States.TaskFailed", "sagemaker")
    ]
    assert result.summary()["winner"] == "logistic_regression"
    assert result.output["evaluation"]["leaderboard_summary"] == {"trained": 1, "failed": 1}
    history = execution_history(stack, result.execution_arn)
    causes = [
        json.loads(e["taskFailedEventDetails"]["cause"])
        for e in history
        if e["type"] == "TaskFailed" and e["taskFailedEventDetails"].get("resourceType") == "sagemaker"
    ]
    assert [(c["TrainingJobStatus"], c["FailureReason"]) for c in causes] == [
        ("Failed", "RuntimeError: the instance ran out of disk")
    ]


def test_every_training_job_failing_ends_in_no_candidate_trained(stack, breast_cancer_uri, monkeypatch):
    def fail(*args, **kwargs):
        raise MemoryError("the job's instance is too small")

    monkeypatch.setattr(training_job, "train", fail)

    result = run_training(stack, _request(breast_cancer_uri, compute="sagemaker"))

    assert result.status == "FAILED"
    assert result.end_state == "NoCandidateTrained"
    assert stack.registry().list_versions("bc") == []


def test_a_job_that_trained_with_other_libraries_is_refused(stack, breast_cancer_uri, monkeypatch):
    # Given a training image whose scikit-learn is not the pipeline's (the version-skew guard)
    real_versions = training_job.library_versions
    monkeypatch.setattr(training_job, "library_versions", lambda: {**real_versions(), "scikit-learn": "1.2.2"})

    result = run_training(stack, _request(breast_cancer_uri, compute="sagemaker"))

    # Then no candidate it trained is used: the collect step refuses each, by name
    assert result.end_state == "NoCandidateTrained"
    history = execution_history(stack, result.execution_arn)
    refused = [
        e["taskFailedEventDetails"]
        for e in history
        if e["type"] == "TaskFailed" and e["taskFailedEventDetails"].get("error") == "LibraryVersionMismatch"
    ]
    assert len(refused) == len(CANDIDATES)  # CollectTrainingJob, once per candidate
    assert all("trained with" in json.loads(d["cause"])["errorMessage"] for d in refused)
    assert "logistic_regression: LibraryVersionMismatch; decision_tree: LibraryVersionMismatch" in (result.cause or "")


def test_without_a_compute_field_a_small_run_trains_on_lambda(stack, breast_cancer_uri):
    result = run_training(stack, _request(breast_cancer_uri))

    assert result.status == "SUCCEEDED", result.cause
    assert "TrainingJob" not in result.states
    assert result.summary()["compute"] == "lambda"
    assert result.summary()["compute_reason"].startswith("default (")
    assert stack.registry().get_version("bc", 1).lineage.compute == "lambda"


def test_data_above_what_the_train_function_holds_switches_to_sagemaker(stack_switching_early):
    stack = stack_switching_early
    uri = upload(stack, "datasets/breast-cancer.csv", breast_cancer_csv())

    result = run_training(stack, _request(uri))

    assert result.status == "SUCCEEDED", result.cause
    assert result.states.count("TrainingJob") == len(CANDIDATES)
    summary = result.summary()
    assert summary["compute"] == "sagemaker"
    assert summary["compute_reason"].startswith("by size (569 rows x 31 columns")
    assert stack.registry().get_version("bc", 1).lineage.compute == "sagemaker"


def test_sagemaker_on_a_stack_without_a_training_image_is_an_invalid_request(monkeypatch):
    with LocalStack(parameters={"TrainingImageUri": ""}) as stack:
        for name, value in stack.environment().items():
            monkeypatch.setenv(name, value)
        uri = upload(stack, "datasets/breast-cancer.csv", breast_cancer_csv())
        result = run_training(stack, _request(uri, compute="sagemaker"))

    assert result.end_state == "InvalidInput"
    assert result.summary()["step_error"] == "InvalidTrainingRequest"
    assert "compute: sagemaker needs a training image" in result.summary()["error_message"]
