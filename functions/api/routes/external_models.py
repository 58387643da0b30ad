"""External versions: a model the caller fitted, registered through the same pipeline and gate as a trained one."""

from typing import Any, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, ConfigDict, Field

from mlops.api import external_models
from mlops.governance import policy as governance
from mlops.records.request import Approval, Deployment, Gate, Split, TrainingRequest
from mlops.settings import ApiSettings, GovernanceSettings

from .conventions import ModelName, RunClientToken, actor, responses

router = Router()


class RegisterExternalVersion(BaseModel):
    """A skops file already uploaded under the allowed locations, and the data the platform evaluates it on."""

    model_config = ConfigDict(extra="forbid", strict=True)
    artifact_uri: str = Field(pattern=r"^s3://[^/]+/.+", description="the skops file, under the allowed locations")
    artifact_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="the file's sha256; refused if it differs")
    format: Literal["skops"] = "skops"
    dataset_uri: str = Field(
        pattern=r"^s3://[^/]+/.+", description="the data the platform splits: its own holdout judges the model"
    )
    target: str = Field(min_length=1)
    task: Literal["classification", "regression"] | None = None
    positive_class: str | None = None
    input_example: dict[str, Any] | None = Field(
        default=None, description="one input row; its columns must be the dataset's inputs"
    )
    description: str = Field(default="", max_length=2000)
    intended_use: str = Field(default="", max_length=2000)
    limitations: str = Field(default="", max_length=2000)
    gate: Gate = Field(default_factory=Gate)
    split: Split = Field(default_factory=Split)
    approval: Approval = Field(default_factory=Approval)
    deployment: Deployment = Field(default_factory=Deployment)
    client_token: RunClientToken


@router.post(
    "/models/<name>/external-versions",
    summary="Register a model fitted elsewhere (skops): checked, evaluated on the platform's holdout, gated",
    responses={202: {"description": "started"}, **responses(403, 409, 422)},
)
def register_external_version(name: ModelName, request: RegisterExternalVersion) -> Response[dict[str, Any]]:
    external = {"artifact_uri": request.artifact_uri, "artifact_sha256": request.artifact_sha256}
    if request.input_example is not None:
        external["input_example"] = request.input_example
    body = TrainingRequest.model_validate(
        {
            **request.model_dump(
                exclude={"client_token", "artifact_uri", "artifact_sha256", "format", "input_example"},
                exclude_none=True,
            ),
            "model_name": name,
            "external": {**external, "format": request.format},
            "requested_by": actor(router.current_event),
        }
    )
    governance.enforce(body, GovernanceSettings.from_environment())  # 403 before the artifact is read
    execution, started = external_models.register_external(
        ApiSettings.from_environment().training_pipeline_arn, body, request.client_token
    )
    return Response(
        status_code=202 if started else 200,
        content_type=content_types.APPLICATION_JSON,
        body={**execution, "started": started, "model_name": name},
    )
