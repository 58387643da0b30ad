"""What every route of the admin API shares: the path parameters, the documented error answers, the caller's
identity as the actor of a change, the registry, and the JSON error body."""

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEvent
from pydantic import BaseModel, ConfigDict, Field

from mlops.records.registry import ALIAS_NAME_PATTERN, MODEL_NAME_PATTERN, TAG_KEY_PATTERN, VERSION_STATUSES
from mlops.registry.store import ModelRegistry
from mlops.settings import Settings


class ErrorBody(BaseModel):
    message: str
    error: str | None = None


def responses(*codes: int) -> dict[int, dict[str, Any]]:
    """The documented answers of a route: 200 and its errors (all JSON with a message); 400 is any malformed body."""
    descriptions = {
        400: "malformed request",
        403: "refused by the stack's governance (a looser rule than the stack's, a dataset outside the allowed "
        "locations, approving one's own run)",
        404: "no such model, version or run",
        409: "conflict with the registry's state (e.g. not deployable, nothing to roll back, token reused)",
        422: "invalid input",
    }
    return {
        code: {"description": descriptions[code], "content": {"application/json": {"model": ErrorBody}}}
        for code in (400, *codes)
    }


ModelName = Annotated[str, Path(pattern=MODEL_NAME_PATTERN, description="registry name of the model")]
VersionNumber = Annotated[int, Path(ge=1, description="registered version number")]
# A run's client token, for every route that starts a TrainingPipeline run (training, an external version).
RunClientToken = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="retrying with the same token never starts a second run",
    ),
]
# The client token of any other start (an on-demand drift check): the same rule, its own description.
ClientToken = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="retrying with the same token never starts a second one",
    ),
]
AliasName = Annotated[str, Path(pattern=ALIAS_NAME_PATTERN, description="alias name, e.g. production or staging")]
TagKey = Annotated[str, Path(pattern=TAG_KEY_PATTERN, description="tag key")]
VersionStatus = Literal[VERSION_STATUSES]  # type: ignore[valid-type]


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=500)


def registry() -> ModelRegistry:
    return ModelRegistry.from_settings(Settings.from_environment())


def actor(event: APIGatewayProxyEvent) -> str:
    """The caller's IAM identity, as API Gateway's IAM authoriser put it in the request context (never a body
    field): the requester of the runs it starts and the actor of every change it makes."""
    identity = event.request_context.identity
    return identity.user_arn or identity.caller or "anonymous"


def error(status: int, exc: Exception) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"message": str(exc), "error": type(exc).__name__},
    )
