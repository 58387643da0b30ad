"""Where candidates train: the request's ``compute``, Prepare's switch by size, and the training job's entry point."""

from __future__ import annotations

import json

import pytest

from functions.training_job import app as job
from local.emulated import sagemaker_training
from mlops.errors import InvalidStepInput, InvalidTrainingRequest
from mlops.records.events import TrainEvent
from mlops.records.request import parse_training_request
from mlops.settings import ComputeSettings, MissingSetting
from mlops.training import compute
from tests.conftest import load_event

MINIMAL = {"model_name": "churn", "dataset_uri": "s3://datasets-bucket/churn/2024.csv", "target": "churned"}
WITH_IMAGE = ComputeSettings(3008, 35.0, "123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-training:1")
NO_IMAGE = ComputeSettings(3008, 35.0, "")


# ---- the request ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["lambda", "sagemaker"])
def test_a_request_may_name_either_engine(engine):
    assert parse_training_request({**MINIMAL, "compute": engine}).compute == engine


def test_a_request_without_an_engine_leaves_the_choice_to_prepare():
    assert parse_training_request(MINIMAL).compute is None


@pytest.mark.parametrize("value", ["gpu", "SageMaker", 1, True, None])
def test_an_unknown_engine_is_refused_naming_the_field(value):
    document = {**MINIMAL, "compute": value}
    if value is None:
        assert parse_training_request(document).compute is None  # null is "not given"
        return
    with pytest.raises(InvalidTrainingRequest, match=r"^invalid training request: compute: "):
        parse_training_request(document)


# ---- the choice -------------------------------------------------------------------------------------------
def test_the_lambda_limit_is_the_memory_left_after_the_fixed_part_over_the_memory_per_cell():
    limit = compute.lambda_cell_limit(3008, 35.0)
    # the estimate at the limit is within the headroom share of MemorySize, one cell-row more is not
    assert compute.estimated_train_mib(limit, 1, 35.0) <= compute.HEADROOM * 3008 + 1
    assert compute.estimated_train_mib(limit + 2**20 // 35 * 10, 1, 35.0) > compute.HEADROOM * 3008


def test_a_table_within_the_limit_trains_on_lambda_and_one_cell_more_on_sagemaker():
    limit = compute.lambda_cell_limit(WITH_IMAGE.train_memory_mb, WITH_IMAGE.train_bytes_per_cell)

    within = compute.choose(None, limit, 1, WITH_IMAGE)
    above = compute.choose(None, limit + 1, 1, WITH_IMAGE)

    assert (within.engine, above.engine) == ("lambda", "sagemaker")
    assert within.reason.startswith("default (") and "within 80% of the Train function's 3,008 MB" in within.reason
    assert above.reason.startswith("by size (") and "above" in above.reason


def test_a_larger_memory_size_raises_the_limit():
    rows, columns = 4_000_000, 20
    assert compute.choose(None, rows, columns, WITH_IMAGE).engine == "sagemaker"
    assert compute.choose(None, rows, columns, ComputeSettings(10240, 35.0, WITH_IMAGE.training_image)).engine == (
        "lambda"
    )


def test_without_a_training_image_large_data_stays_on_lambda_and_says_why():
    decision = compute.choose(None, 10**9, 20, NO_IMAGE)
    assert decision.engine == "lambda"
    assert "no training image" in decision.reason


def test_sagemaker_requested_on_a_stack_without_a_training_image_is_refused():
    with pytest.raises(InvalidTrainingRequest, match="compute: sagemaker needs a training image"):
        compute.choose("sagemaker", 10, 2, NO_IMAGE)


def test_a_requested_engine_is_kept_whatever_the_size():
    assert compute.choose("lambda", 10**9, 20, WITH_IMAGE).engine == "lambda"
    assert compute.choose("sagemaker", 10, 2, WITH_IMAGE).reason.startswith("requested (")


@pytest.mark.parametrize(
    ("variables", "problem"),
    [
        ({"TRAIN_BYTES_PER_CELL": "106", "TRAINING_IMAGE_URI": ""}, "TRAIN_MEMORY_MB is not set"),
        ({"TRAIN_MEMORY_MB": "lots", "TRAIN_BYTES_PER_CELL": "106", "TRAINING_IMAGE_URI": ""}, "must be numbers"),
        ({"TRAIN_MEMORY_MB": "3008", "TRAIN_BYTES_PER_CELL": "0", "TRAINING_IMAGE_URI": ""}, "> 0"),
        ({"TRAIN_MEMORY_MB": "3008", "TRAIN_BYTES_PER_CELL": "106"}, "TRAINING_IMAGE_URI is not set"),
    ],
)
def test_compute_settings_fail_fast(monkeypatch, variables, problem):
    for name in ComputeSettings.ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(MissingSetting, match=problem):
        ComputeSettings.from_environment()


# ---- the training job's entry point -----------------------------------------------------------------------
def _train_event() -> TrainEvent:
    return TrainEvent.model_validate(load_event("train", "logistic_regression"))


def test_the_hyperparameters_carry_the_train_event_and_read_back_to_it():
    event = _train_event()

    hyperparameters = job.hyperparameters_of(event, "mlops-train-1")
    read, name = job.read_event(hyperparameters)

    assert all(isinstance(value, str) for value in hyperparameters.values())  # SageMaker's map of strings
    assert name == "mlops-train-1"
    # what the job's own instance and runtime were is SageMaker's to know, not the job's: not carried
    settled_by_the_map = {"compute", "sagemaker"}
    assert read.model_dump(exclude=settled_by_the_map) == event.model_dump(exclude=settled_by_the_map)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda h: h.pop("dataset"), "incomplete or malformed"),
        (lambda h: h.update(index="first"), "incomplete or malformed"),
        (lambda h: h.update(candidate="{not json"), "incomplete or malformed"),
        (lambda h: h.update(seed="-1"), "TrainEvent is invalid: seed"),
    ],
)
def test_malformed_hyperparameters_are_a_named_error(change, problem):
    hyperparameters = job.hyperparameters_of(_train_event(), "mlops-train-1")
    change(hyperparameters)
    with pytest.raises(InvalidStepInput, match=problem):
        job.read_event(hyperparameters)


def test_a_failing_job_writes_its_reason_where_sagemaker_reads_it(tmp_path):
    # Given hyperparameters that do not name a candidate
    config = tmp_path / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps({"index": "0"}))

    # When the container's command runs
    exit_code = job.main(["train"], tmp_path, {"ARTIFACTS_BUCKET": "bucket"})

    # Then it exits non-zero and /opt/ml/output/failure holds the named error (the job's FailureReason)
    assert exit_code == 1
    assert (tmp_path / "output" / "failure").read_text().startswith("InvalidStepInput: the training job's")


def test_the_job_needs_its_bucket(tmp_path):
    assert job.main(["train"], tmp_path, {}) == 1
    assert "ARTIFACTS_BUCKET" in (tmp_path / "output" / "failure").read_text()


def test_the_job_runs_only_as_train():
    assert job.main(["serve"]) == 2


# ---- the local CreateTrainingJob's checks ----------------------------------------------------------------
def _job_request(**hyperparameters: str) -> dict:
    return {
        "TrainingJobName": "mlops-train-check",
        "RoleArn": "arn:aws:iam::123456789012:role/training",
        "AlgorithmSpecification": {"TrainingImage": "image", "TrainingInputMode": "File"},
        "HyperParameters": hyperparameters,
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/runs/r/training-jobs"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


def test_create_training_job_refuses_a_hyperparameter_longer_than_sagemaker_allows():
    sagemaker_training.check_request(_job_request(dataset="x" * 2500))
    with pytest.raises(sagemaker_training.TrainingJobRefused, match="'dataset' is 2501 characters long"):
        sagemaker_training.check_request(_job_request(dataset="x" * 2501))


def test_create_training_job_refuses_what_botocore_refuses():
    request = _job_request()
    del request["RoleArn"]
    with pytest.raises(sagemaker_training.TrainingJobRefused, match=r"(?s)ValidationException: .*RoleArn"):
        sagemaker_training.check_request(request)


# ---- a drift-triggered retraining asks for what the user asked, not what size settled -----------------------
@pytest.mark.parametrize(("requested", "expected"), [(None, None), ("sagemaker", "sagemaker"), ("lambda", "lambda")])
def test_a_retraining_request_keeps_the_users_engine_not_the_settled_one(requested, expected):
    from types import SimpleNamespace  # noqa: PLC0415

    from mlops.monitoring.check import retraining_request  # noqa: PLC0415

    settled = {**MINIMAL, "compute": "sagemaker", "compute_reason": "by size (...)", "requested_compute": requested}
    request = retraining_request(
        {"training_request": settled},
        SimpleNamespace(retraining_dataset_uri=None, retraining_feedback=None),
        "check-1",
        "drift",
    )

    assert request.get("compute") == expected
    assert "compute_reason" not in request and "requested_compute" not in request
