"""Batch jobs: score a CSV in S3 with a model's alias (BatchTransform), and read a job's status and counts."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import Field

from mlops.api import batch_jobs
from mlops.governance import policy as governance
from mlops.records.batch import CLIENT_TOKEN_PATTERN, JOB_ID_PATTERN, BatchJobRequest
from mlops.settings import BatchApiSettings, GovernanceSettings, Settings

from .conventions import ModelName, registry, responses

router = Router()


class StartBatchJob(BatchJobRequest):
    client_token: str | None = Field(
        default=None,
        pattern=CLIENT_TOKEN_PATTERN,
        description="retrying with the same token starts no second job (it names the job); omit it for a new job",
    )


JobId = Annotated[str, Path(pattern=JOB_ID_PATTERN, description="the job id POST .../batch-jobs answered")]


@router.post(
    "/models/<name>/batch-jobs",
    summary="Score a CSV in S3 with a model's alias (BatchTransform); answers 202 with the job id",
    responses={202: {"description": "started"}, **responses(403, 404, 409, 422)},
)
def start_batch_job(name: ModelName, request: StartBatchJob) -> Response[dict[str, Any]]:
    registry().get_model(name)  # 404 before anything starts
    governance.enforce_input_location(request.input_uri, GovernanceSettings.from_environment())  # 403
    job, started = batch_jobs.start_batch_job(
        BatchApiSettings.from_environment().batch_transform_arn,
        name,
        BatchJobRequest.model_validate(request.model_dump(exclude={"client_token"})),
        request.client_token,
    )
    return Response(
        status_code=202 if started else 200,
        content_type=content_types.APPLICATION_JSON,
        body={**job, "started": started},
    )


@router.get(
    "/models/<name>/batch-jobs/<job_id>",
    summary="A batch job: status, counts (rows, scored, invalid), output and errors URIs",
    responses={**responses(404, 422)},
)
def get_batch_job(name: ModelName, job_id: JobId) -> dict[str, Any]:
    return batch_jobs.describe_batch_job(
        BatchApiSettings.from_environment().batch_transform_arn,
        Settings.from_environment().artifacts_bucket,
        name,
        job_id,
    )
