"""Batch jobs (BatchTransform) behind the API: start one named by a new job id, describe one with its summary."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from mlops import errors
from mlops.api.executions import describe_execution, execution_arn
from mlops.errors import ModelNotFound, VersionConflict
from mlops.records.batch import BatchJobRequest, BatchJobStart
from mlops.serving import batch_jobs as batch
from mlops.storage import clients

# Errors whose message is written for the caller about their own input (mlops.errors): a failed job may quote it.
# Any other error (a bug, a limit, the runtime) is answered by its name only; the execution's history keeps the rest.
DOMAIN_ERRORS = frozenset(
    name for name, value in vars(errors).items() if isinstance(value, type) and issubclass(value, errors.MlopsError)
)
MAX_MESSAGE_CHARS = 1000


class BatchJobNotFound(ModelNotFound):
    """No batch job with that id for that model."""


class ClientTokenReused(VersionConflict):
    """A client token was sent again with a different batch request."""


def start_batch_job(
    state_machine_arn: str, model_name: str, request: BatchJobRequest, client_token: str | None = None
) -> tuple[dict[str, Any], bool]:
    """Start a BatchTransform execution named by its job id (the model must exist: 404 otherwise, checked by the
    caller); the job's files go under ``predictions/<model>/<job>/``. Return (job, started_now).

    With a client token the job id is the token's (``job_id_for_token``): a retried POST finds the job it started
    (or a conflict if the request differs), and two racing ones call StartExecution with one name: one job."""
    job_id = batch.job_id_for_token(model_name, client_token) if client_token else batch.new_job_id()
    start = BatchJobStart(job_id=job_id, model_name=model_name, request=request)
    answer = {"job_id": job_id, "model_name": model_name, "input_uri": request.input_uri, "alias": request.alias}
    sfn = clients.client("stepfunctions")
    arn = execution_arn(state_machine_arn, job_id)
    existing = describe_execution(sfn, arn) if client_token else None
    if existing is None:
        try:
            started = sfn.start_execution(stateMachineArn=state_machine_arn, name=job_id, input=start.model_dump_json())
            return {**answer, "status": "RUNNING", "execution_arn": started["executionArn"]}, True
        except ClientError as exc:
            if not client_token or exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
                raise
            existing = describe_execution(sfn, arn)
    if existing is None or json.loads(existing["input"]) != json.loads(start.model_dump_json()):
        raise ClientTokenReused("this client token already started a batch job with a different request")
    return {**answer, "status": existing["status"], "execution_arn": arn}, False


def public_cause(error: str | None, cause: str | None) -> str:
    """What the API says of a failed job: a domain error's own message (it speaks of the caller's input), never a
    stack trace, file or source line; any other error by its name only."""
    try:
        document = json.loads(cause or "")
    except (json.JSONDecodeError, TypeError):
        document = None
    if isinstance(document, dict) and document.get("errorType") in DOMAIN_ERRORS:
        return str(document.get("errorMessage") or "")[:MAX_MESSAGE_CHARS]
    return (
        f"the job failed with {error or 'an error'}; the details are in the execution's history "
        "(states:GetExecutionHistory), not in API answers"
    )


def describe_batch_job(state_machine_arn: str, artifacts_bucket: str, model_name: str, job_id: str) -> dict[str, Any]:
    """Status from the execution; counts and URIs from the job's summary once it has one (a FAILED job's summary
    names no output: what its committed chunks wrote is not a result)."""
    sfn = clients.client("stepfunctions")
    described = describe_execution(sfn, execution_arn(state_machine_arn, job_id))
    if described is None or json.loads(described.get("input") or "{}").get("model_name") != model_name:
        raise BatchJobNotFound(f"no batch job {job_id!r} for model {model_name!r}")
    result: dict[str, Any] = {
        "job_id": job_id,
        "model_name": model_name,
        "status": described["status"],
        "execution_arn": described["executionArn"],
        "started_at": described["startDate"].isoformat(),
    }
    if described.get("stopDate"):
        result["stopped_at"] = described["stopDate"].isoformat()
    if described["status"] == "FAILED":
        result.update(error=described.get("error"), cause=public_cause(described.get("error"), described.get("cause")))
    if described["status"] != "RUNNING":
        summary = batch.read_summary(artifacts_bucket, model_name, job_id)
        if summary is not None:
            if "cause" in summary:  # the recorder keeps the step's cause; the answer gives its public form
                summary["cause"] = public_cause(summary.get("error"), summary["cause"])
            result["summary"] = summary
            for key in ("rows", "scored", "invalid", "output_uri", "errors_uri", "version", "complete"):
                if key in summary:
                    result[key] = summary[key]
    return result
