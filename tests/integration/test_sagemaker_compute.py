"""Training past Lambda: the real TrainingPipeline with its trials (the TrainTrials Distributed Map's items) on
SageMaker training jobs, emulated in-process (local/emulated/sagemaker_training.py) with the same entry point, S3 keys
and DescribeTrainingJob results."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator

import pytest

from functions.training_job import app as training_job
from local.emulated import sagemaker_training
from local.runs.datasets import breast_cancer_csv
from local.runs.training import run_training
from local.stack import LocalStack
from mlops.records.lineage import library_versions, run_id_of
from mlops.storage import layout, objects
from mlops.storage.objects import S3Uri
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


def _training_jobs() -> list[dict]:
    """DescribeTrainingJob of every job the run started: the TrainingJob tasks run in the Distributed Map's child
    executions, whose history the parent's does not show."""
    return sagemaker_training.jobs()


def _failed_trials(stack: LocalStack, result) -> list[dict]:
    """The child executions the TrainTrials ResultWriter recorded as FAILED (the item, its error and cause), from S3:
    a run that failed afterwards returns no state to read the manifest's location from."""
    prefix = layout.run_trial_results_prefix(stack.bucket, run_id_of(result.execution_arn), 0)
    return [
        execution
        for key in objects.list_keys(prefix)
        if key.rsplit("/", 1)[-1].startswith("FAILED_")
        for execution in objects.get_json(S3Uri(stack.bucket, key))
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

    # Then every candidate (a trial of the Distributed Map) went through a training job
    assert result.status == "SUCCEEDED", result.cause
    assert result.end_state == "Deployed"
    assert result.states[:3] == ["Prepare", "PlanTrials", "TrainTrials"]
    # the task's raw result is DescribeTrainingJob's document, Completed, with the job's model.tar.gz
    described = _training_jobs()
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
        trial = json.loads(hyperparameters["trial"])  # the item's place in the search, for hand-listed ones too
        assert (trial["rung"], trial["fraction"], trial["deadline_epoch_s"]) == (0, 1.0, None)
        assert trial["trial_id"].startswith("t")
    # each artifact is at the Train function's key and hashes to the digest the candidate carries
    leaderboard = result.summary()["leaderboard"]
    assert [row["compute"] for row in leaderboard] == ["sagemaker"] * len(CANDIDATES)
    # the ResultWriter's record of each child execution is the collected candidate (the Train function's record)
    assert _failed_trials(stack, result) == []
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


def test_a_failing_training_job_fails_its_trial_and_the_run_goes_on(stack, breast_cancer_uri, monkeypatch):
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

    # Then that trial's child execution failed as Step Functions reports a failed job (within the hand-listed
    # candidates' tolerance), the ResultWriter recorded it, and the other one won
    assert result.status == "SUCCEEDED", result.cause
    [failed_execution] = _failed_trials(stack, result)
    assert failed_execution["Error"] == "States.TaskFailed"
    cause = json.loads(failed_execution["Cause"])
    assert (cause["TrainingJobStatus"], cause["FailureReason"]) == (
        "Failed",
        "RuntimeError: the instance ran out of disk",
    )
    assert json.loads(failed_execution["Input"])["compute"] == "sagemaker"
    failed = [row for row in result.summary()["leaderboard"] if row["status"] == "failed"]
    assert [(row["estimator"], row["error"], row["compute"]) for row in failed] == [
        ("decision_tree", "States.TaskFailed", "sagemaker")
    ]
    assert result.summary()["winner"] == "logistic_regression"
    assert result.output["evaluation"]["leaderboard_summary"] == {"trained": 1, "failed": 1, "skipped": 0, "rungs": 1}
    assert [job["TrainingJobStatus"] for job in _training_jobs()].count("Failed") == 1


def test_failed_training_jobs_above_a_searchs_tolerance_end_in_too_many_trials_failed(
    stack, breast_cancer_uri, monkeypatch
):
    # Given a search tolerating no failure, and one job in four that fails
    real_train = training_job.train
    calls = []

    def every_fourth_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) % 4 == 0:
            raise RuntimeError("the instance was reclaimed")
        return real_train(*args, **kwargs)

    monkeypatch.setattr(training_job, "train", every_fourth_fails)
    search = {"max_trials": 4, "seed": 1, "tolerated_failure_percentage": 0, "max_concurrency": 2}
    search["spaces"] = [
        {"estimator": "logistic_regression", "params": {"C": {"type": "float", "low": 0.1, "high": 10}}}
    ]

    result = run_training(
        stack, {**_request(breast_cancer_uri, compute="sagemaker"), "candidates": None, "search": search}
    )

    # Then the failed job counted against the Distributed Map's tolerance, as a failed Train invocation does
    assert result.status == "FAILED"
    assert result.end_state == "TooManyTrialsFailed"
    assert "States.ExceedToleratedFailureThreshold" in (result.cause or "")
    assert stack.registry().list_versions("bc") == []


def test_a_search_with_halving_trains_every_rung_on_sagemaker(stack, breast_cancer_uri):
    search = {"max_trials": 6, "seed": 5, "halving": {"factor": 3, "min_fraction": 1 / 3}}
    search["spaces"] = [
        {"estimator": "logistic_regression", "params": {"C": {"type": "float", "low": 0.01, "high": 10, "log": True}}}
    ]
    request = {**_request(breast_cancer_uri, compute="sagemaker"), "candidates": None, "search": search}

    result = run_training(stack, request)

    assert result.status == "SUCCEEDED", result.cause
    assert "PromoteTrials" in result.states
    leaderboard = result.documents["leaderboard"]
    assert {row["compute"] for row in leaderboard} == {"sagemaker"}
    rungs = sorted({row["rung"] for row in leaderboard})
    assert rungs == [0, 1]
    # one job per trial of every rung, each given its rung and row fraction; later rungs at their own keys
    jobs = _training_jobs()
    assert len(jobs) == len(leaderboard)
    trials = [json.loads(job["HyperParameters"]["trial"]) for job in jobs]
    assert sorted((t["rung"], t["fraction"]) for t in trials) == sorted((r["rung"], r["fraction"]) for r in leaderboard)
    run_id = run_id_of(result.execution_arn)
    for row in leaderboard:
        key = layout.candidate_artifact(stack.bucket, run_id, row["index"], row["estimator"], row["rung"])
        result_uri = layout.candidate_result(stack.bucket, run_id, row["index"], row["estimator"], row["rung"])
        stored = objects.get_json(result_uri)["candidate"]
        assert (stored["trial_id"], stored["rung"], stored["artifact_uri"]) == (row["trial_id"], row["rung"], str(key))
        assert objects.sha256_hex(objects.get_bytes(key)) == stored["artifact_sha256"]
    winner = result.output["evaluation"]["winner"]
    assert winner["rung"] == 1 and winner["compute"] == "sagemaker"
    assert stack.registry().get_version("bc", 1).lineage.training_job == winner["training_job"]


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

    # Then no candidate it trained is used: the collect step refuses each, by name, failing its trial
    assert result.end_state == "NoCandidateTrained"
    refused = _failed_trials(stack, result)
    assert [e["Error"] for e in refused] == ["LibraryVersionMismatch"] * len(CANDIDATES)
    assert all("trained with" in json.loads(e["Cause"])["errorMessage"] for e in refused)
    assert "logistic_regression: LibraryVersionMismatch; decision_tree: LibraryVersionMismatch" in (result.cause or "")


def test_without_a_compute_field_a_small_run_trains_on_lambda(stack, breast_cancer_uri):
    result = run_training(stack, _request(breast_cancer_uri))

    assert result.status == "SUCCEEDED", result.cause
    assert _training_jobs() == []
    assert result.summary()["compute"] == "lambda"
    assert result.summary()["compute_reason"].startswith("default (")
    assert stack.registry().get_version("bc", 1).lineage.compute == "lambda"


def test_data_above_what_the_train_function_holds_switches_to_sagemaker(stack_switching_early):
    stack = stack_switching_early
    uri = upload(stack, "datasets/breast-cancer.csv", breast_cancer_csv())

    result = run_training(stack, _request(uri))

    assert result.status == "SUCCEEDED", result.cause
    assert len(_training_jobs()) == len(CANDIDATES)
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
