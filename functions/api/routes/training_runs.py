"""Training runs: start one (idempotent on the client token), read one, list the newest."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import Field

from mlops.api import training_runs as runs
from mlops.governance import policy as governance
from mlops.records.request import TrainingRequest
from mlops.settings import ApiSettings, GovernanceSettings

from .conventions import RunClientToken, actor, responses

router = Router()


class StartTraining(TrainingRequest):
    requested_by: None = Field(  # type: ignore[assignment]
        default=None, description="not accepted: the run records the caller's IAM identity as its requester"
    )
    external: None = Field(  # type: ignore[assignment]
        default=None,
        description="not accepted: a model fitted elsewhere goes through POST /models/{name}/external-versions",
    )
    client_token: RunClientToken


@router.post(
    "/pipelines/training",
    summary="Start a training run (idempotent on client_token)",
    responses={202: {"description": "started"}, **responses(403, 409, 422)},
)
def start_training(request: StartTraining) -> Response[dict[str, Any]]:
    body = TrainingRequest.model_validate(
        {
            **request.model_dump(exclude={"client_token", "requested_by", "external"}),
            "requested_by": actor(router.current_event),
        }
    )
    governance.enforce(body, GovernanceSettings.from_environment())  # 403 before anything starts
    execution, started = runs.start_training(
        ApiSettings.from_environment().training_pipeline_arn, body, request.client_token
    )
    return Response(
        status_code=202 if started else 200,
        content_type=content_types.APPLICATION_JSON,
        body={**execution, "started": started},
    )


@router.get(
    "/pipelines/training/<execution_id>",
    summary="Status and result of a training run",
    responses={**responses(404, 422)},
)
def get_training(
    execution_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,80}$")],
    steps: Annotated[bool, Query(description="also list the states entered and exited so far")] = False,
) -> dict[str, Any]:
    return runs.describe_training(ApiSettings.from_environment().training_pipeline_arn, execution_id, with_steps=steps)


@router.get(
    "/pipelines/training",
    summary="The newest training runs (newest first), with their status and model",
    responses={**responses(422)},
)
def list_training(limit: Annotated[int, Query(ge=1, le=100, description="how many runs")] = 20) -> list[dict[str, Any]]:
    return runs.list_training(ApiSettings.from_environment().training_pipeline_arn, limit)
