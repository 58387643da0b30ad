"""The SageMaker training-job integration (``arn:aws:states:::sagemaker:createTrainingJob.sync``), emulated in-process.

moto's ASL interpreter lists ``sagemaker`` among the services it does not support (it would forward the call to
moto's SageMaker, which runs no container, and only for ``.waitForTaskToken``). As the local stack runs Lambda
handlers in-process (local/runtime.py), this runs a training job in-process: the task's parameters are checked
against botocore's CreateTrainingJob model and SageMaker's limits, a directory stands for the container's
``/opt/ml`` (``input/config/hyperparameters.json``, ``model/``, ``output/failure``), the image's entry point
(``functions.training_job.app``) runs with the job's ``Environment``, ``model/`` is uploaded as
``<S3OutputPath>/<job>/output/model.tar.gz``, and the task's result is a DescribeTrainingJob document.

How a job's end reaches the state machine, as Step Functions reports it for ``.sync`` jobs:
- Completed: the task's output is the DescribeTrainingJob document (TrainingJobStatus, ModelArtifacts, ...).
- Failed (the entry point exited non-zero): ``States.TaskFailed`` whose cause is the DescribeTrainingJob document
  as JSON, with ``FailureReason`` the text the job wrote to ``/opt/ml/output/failure``.
- Refused by the API (a malformed request, a hyperparameter over 2,500 characters): the service's error,
  ``SageMaker.AmazonSageMakerException``, with its message as the cause.
Either way the trial's child execution fails: the Distributed Map counts it against its tolerated failures and
its ResultWriter records it. Timestamps are epoch milliseconds, as Step Functions
serialises them. Jobs are kept per process (``described``) so tests can read them back like DescribeTrainingJob.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
import threading
import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

import boto3
from botocore.exceptions import ParamValidationError
from botocore.validate import validate_parameters
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

from mlops.storage.objects import S3Uri

API_ERROR: Final = "SageMaker.AmazonSageMakerException"
HYPERPARAMETER_VALUE_LIMIT: Final = 2500  # SageMaker's limit on one hyperparameter value (and 100 of them)
HYPERPARAMETER_COUNT_LIMIT: Final = 100
ACCOUNT_ID: Final = "123456789012"

_original_factory = state_task_factory.state_task_service_for
_jobs: dict[str, dict[str, Any]] = {}
_jobs_lock = threading.Lock()


class TrainingJobRefused(Exception):
    """CreateTrainingJob refused the request (SageMaker's ValidationException): the task fails with the API's error."""


def described(name: str) -> dict[str, Any]:
    """DescribeTrainingJob of a job this process ran."""
    with _jobs_lock:
        return dict(_jobs[name])


def jobs() -> list[dict[str, Any]]:
    """DescribeTrainingJob of every job this process ran, oldest first (a Distributed Map's child executions keep no
    history the parent's shows, so tests read their jobs here)."""
    with _jobs_lock:
        return [dict(job) for job in _jobs.values()]


def forget_jobs() -> None:
    with _jobs_lock:
        _jobs.clear()


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@cache
def _create_training_job_shape() -> Any:
    model = boto3.session.Session().client("sagemaker", region_name="us-east-1").meta.service_model
    return model.operation_model("CreateTrainingJob").input_shape


def check_request(parameters: dict[str, Any]) -> None:
    """What CreateTrainingJob checks before a job exists: botocore's model of the request, then SageMaker's own
    limits botocore does not model (hyperparameter values and count), and a unique name."""
    try:
        validate_parameters(parameters, _create_training_job_shape())
    except ParamValidationError as exc:
        raise TrainingJobRefused(f"ValidationException: {exc}") from exc
    hyperparameters = parameters.get("HyperParameters") or {}
    if len(hyperparameters) > HYPERPARAMETER_COUNT_LIMIT:
        raise TrainingJobRefused(f"ValidationException: {len(hyperparameters)} hyperparameters (at most 100)")
    for key, value in hyperparameters.items():
        if len(value) > HYPERPARAMETER_VALUE_LIMIT:
            raise TrainingJobRefused(
                f"ValidationException: hyperparameter {key!r} is {len(value)} characters long; "
                f"a value may hold at most {HYPERPARAMETER_VALUE_LIMIT}"
            )
    with _jobs_lock:
        if parameters["TrainingJobName"] in _jobs:
            raise TrainingJobRefused(f"ResourceInUse: training job {parameters['TrainingJobName']} already exists")


def _upload_model(model_dir: Path, output_path: str, name: str, region: str) -> str:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(model_dir.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(model_dir)))
    location = S3Uri.parse(f"{output_path.rstrip('/')}/{name}/output/model.tar.gz")
    boto3.client("s3", region_name=region).put_object(Bucket=location.bucket, Key=location.key, Body=buffer.getvalue())
    return str(location)


def run_training_job(parameters: dict[str, Any], region: str) -> dict[str, Any]:
    """Run the job's container command in-process (the image's entry point) and describe how it ended."""
    from functions.training_job import app as job  # noqa: PLC0415 - the ML stack is imported when a job runs, not with the stack

    name = parameters["TrainingJobName"]
    arn = f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:training-job/{name}"
    created = datetime.now(UTC)
    description: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": arn,
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Training",
        "HyperParameters": parameters.get("HyperParameters", {}),
        "AlgorithmSpecification": parameters["AlgorithmSpecification"],
        "RoleArn": parameters["RoleArn"],
        "OutputDataConfig": parameters["OutputDataConfig"],
        "ResourceConfig": parameters["ResourceConfig"],
        "StoppingCondition": parameters["StoppingCondition"],
        "Environment": parameters.get("Environment", {}),
        "CreationTime": _epoch_ms(created),
    }
    with _jobs_lock:
        _jobs[name] = description
    with tempfile.TemporaryDirectory(prefix="opt-ml-") as directory:
        ml_root = Path(directory)
        config = ml_root / "input" / "config"
        config.mkdir(parents=True)
        (config / "hyperparameters.json").write_text(json.dumps(parameters.get("HyperParameters", {})))
        (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
        (config / "inputdataconfig.json").write_text(json.dumps({}))
        (ml_root / "model").mkdir()
        environment = {**parameters.get("Environment", {}), "TRAINING_JOB_NAME": name, "TRAINING_JOB_ARN": arn}
        started = time.monotonic()
        exit_code = job.main(["train"], ml_root, environment)
        seconds = max(1, round(time.monotonic() - started))
        ended = datetime.now(UTC)
        failure = ml_root / "output" / "failure"
        if exit_code == 0:
            artifacts = _upload_model(ml_root / "model", parameters["OutputDataConfig"]["S3OutputPath"], name, region)
            outcome: dict[str, Any] = {
                "TrainingJobStatus": "Completed",
                "SecondaryStatus": "Completed",
                "ModelArtifacts": {"S3ModelArtifacts": artifacts},
            }
        else:
            reason = failure.read_text() if failure.is_file() else f"the entry point exited with {exit_code}"
            outcome = {"TrainingJobStatus": "Failed", "SecondaryStatus": "Failed", "FailureReason": reason}
    description.update(
        outcome,
        TrainingStartTime=_epoch_ms(created),
        TrainingEndTime=_epoch_ms(ended),
        LastModifiedTime=_epoch_ms(ended),
        TrainingTimeInSeconds=seconds,
        BillableTimeInSeconds=seconds,
    )
    with _jobs_lock:
        _jobs[name] = description
    return dict(description)


class StateTaskServiceLocalTrainingJob(StateTaskServiceCallback):
    """``sagemaker:createTrainingJob.sync``: create checks the request; the .sync wait runs the job to its end."""

    def __init__(self) -> None:
        super().__init__(supported_integration_patterns={ResourceCondition.Sync})

    def _get_supported_parameters(self) -> set[str] | None:
        """CreateTrainingJob's request members (botocore's model); None for any other action: not emulated, so the
        definition is refused when the state machine is created, as moto refuses an unknown resource."""
        if self.resource.api_action.lower() != "createtrainingjob" or self.resource.condition != ResourceCondition.Sync:
            return None
        return set(_create_training_job_shape().members)

    def _from_error(self, env: Any, ex: Exception) -> FailureEvent:
        if isinstance(ex, TrainingJobRefused):
            return FailureEvent(
                env=env,
                error_name=CustomErrorName(API_ERROR),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(
                    taskFailedEventDetails=TaskFailedEventDetails(
                        error=API_ERROR,
                        cause=str(ex),
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                    )
                ),
            )
        return super()._from_error(env=env, ex=ex)

    def _eval_service_task(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
    ) -> None:
        check_request(normalised_parameters)
        name = normalised_parameters["TrainingJobName"]
        env.stack.append(
            {"TrainingJobArn": f"arn:aws:sagemaker:{resource_runtime_part.region}:{ACCOUNT_ID}:training-job/{name}"}
        )

    def _eval_integration_pattern(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
    ) -> None:
        env.stack.pop()  # CreateTrainingJob's answer; .sync ends with DescribeTrainingJob's
        description = run_training_job(normalised_parameters, resource_runtime_part.region)
        if description["TrainingJobStatus"] != "Completed":
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(
                        taskFailedEventDetails=TaskFailedEventDetails(
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                            error=StatesErrorNameType.StatesTaskFailed.to_name(),
                            cause=to_json_str(description),
                        )
                    ),
                )
            )
        env.stack.append(description)


def _state_task_service_for(service_name: str) -> Any:
    if service_name == "sagemaker":
        return StateTaskServiceLocalTrainingJob()
    return _original_factory(service_name)
