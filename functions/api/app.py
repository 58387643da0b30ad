"""Admin API: training runs, registry browsing, deployments, canaries and rollbacks (IAM-authorised routes).

Powertools' event_handler validates every request against the annotated models and generates the OpenAPI
document (`openapi.json`, written by `python -m tools.write_openapi`).
"""

import json
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from mlops import admin, cards
from mlops.errors import DeploymentRefused, InvalidTrainingRequest, ModelNotFound, SmokeTestFailed, VersionConflict
from mlops.registry import MODEL_NAME_PATTERN, ModelRegistry
from mlops.requests import TrainingRequest
from mlops.settings import ApiSettings, Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)

ModelName = Annotated[str, Path(pattern=MODEL_NAME_PATTERN, description="registry name of the model")]
VersionNumber = Annotated[int, Path(ge=1, description="registered version number")]


class StartTraining(TrainingRequest):
    client_token: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="retrying with the same token never starts a second run",
    )


class Deployment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1)
    canary_weight: float | None = Field(default=None, ge=0, le=1, description="omit or 1 for production")
    reason: str = Field(default="", max_length=500)


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=500)


def _registry() -> ModelRegistry:
    return ModelRegistry(Settings.from_environment().registry_table)


def _actor() -> str:
    identity = app.current_event.request_context.identity
    return identity.user_arn or identity.caller or "anonymous"


def _error(status: int, exc: Exception) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"message": str(exc), "error": type(exc).__name__},
    )


@app.exception_handler(ModelNotFound)
def not_found(exc: ModelNotFound) -> Response:
    return _error(404, exc)


@app.exception_handler([VersionConflict, DeploymentRefused, SmokeTestFailed])
def conflict(exc: Exception) -> Response:
    return _error(409, exc)


@app.exception_handler(RequestValidationError)
def invalid_request(exc: RequestValidationError) -> Response:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg', error.get('type', 'invalid'))}"
        for error in exc.errors()
    )
    return Response(
        status_code=422,
        content_type=content_types.APPLICATION_JSON,
        body={
            "message": f"invalid request: {problems}",
            "error": "RequestValidationError",
            "detail": jsonable(exc.errors()),
        },
    )


def jsonable(errors: Any) -> Any:
    return json.loads(json.dumps(errors, default=str))


@app.exception_handler(InvalidTrainingRequest)
def invalid(exc: InvalidTrainingRequest) -> Response:
    return _error(422, exc)


@app.post("/pipelines/training", summary="Start a training run (idempotent on client_token)")
def start_training(request: StartTraining) -> Response[dict[str, Any]]:
    body = TrainingRequest.model_validate(request.model_dump(exclude={"client_token"}))
    if body.requested_by == "unknown":
        body.requested_by = f"api:{_actor()}"
    execution, started = admin.start_training(
        ApiSettings.from_environment().training_pipeline_arn, body, request.client_token
    )
    return Response(
        status_code=202 if started else 200,
        content_type=content_types.APPLICATION_JSON,
        body={**execution, "started": started},
    )


@app.get("/pipelines/training/<execution_id>", summary="Status and result of a training run")
def get_training(execution_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,80}$")]) -> dict[str, Any]:
    return admin.describe_training(ApiSettings.from_environment().training_pipeline_arn, execution_id)


@app.get("/models", summary="Registered models with their production version")
def list_models() -> list[dict[str, Any]]:
    return admin.list_models(_registry())


@app.get("/models/<name>", summary="A model with its aliases (production, canary)")
def get_model(name: ModelName) -> dict[str, Any]:
    return admin.get_model(_registry(), name)


@app.get("/models/<name>/versions", summary="Versions of a model")
def list_versions(name: ModelName) -> list[dict[str, Any]]:
    return admin.list_versions(_registry(), name)


@app.get("/models/<name>/versions/<version>", summary="The full record of a version (metrics, lineage, ...)")
def get_version(name: ModelName, version: VersionNumber) -> dict[str, Any]:
    return admin.get_version(_registry(), name, version)


@app.post("/models/<name>/deployments", summary="Smoke-test a version, then deploy it or start a canary")
def deploy(name: ModelName, deployment: Deployment) -> dict[str, Any]:
    reason = deployment.reason or "deployed through the admin API"
    return admin.deploy(
        _registry(),
        ApiSettings.from_environment().predict_function,
        name,
        version=deployment.version,
        canary_weight=deployment.canary_weight,
        actor=_actor(),
        reason=reason,
    )


@app.post("/models/<name>/promote", summary="Make the canary the production version")
def promote(name: ModelName, body: Annotated[Reason | None, Body()] = None) -> dict[str, Any]:
    reason = (body.reason if body else "") or "promoted through the admin API"
    return admin.public_alias(_registry().promote(name, actor=_actor(), reason=reason))


@app.post("/models/<name>/rollback", summary="Drop the canary, or return production to its previous version")
def rollback(name: ModelName, body: Annotated[Reason | None, Body()] = None) -> dict[str, Any]:
    reason = (body.reason if body else "") or "rolled back through the admin API"
    return admin.public_alias(_registry().rollback(name, actor=_actor(), reason=reason))


@app.post("/models/<name>/versions/<version>/approve", summary="Approve a PendingApproval version (resumes its run)")
def approve(name: ModelName, version: VersionNumber, body: Annotated[Reason | None, Body()] = None) -> dict[str, Any]:
    reason = (body.reason if body else "") or "approved through the admin API"
    return admin.decide(
        _registry(),
        Settings.from_environment().artifacts_bucket,
        name,
        version,
        approved=True,
        actor=_actor(),
        reason=reason,
    )


@app.post("/models/<name>/versions/<version>/reject", summary="Reject a PendingApproval version (stops its run)")
def reject(name: ModelName, version: VersionNumber, body: Reason) -> dict[str, Any]:
    if not body.reason.strip():
        raise InvalidTrainingRequest("a rejection needs a reason")
    return admin.decide(
        _registry(),
        Settings.from_environment().artifacts_bucket,
        name,
        version,
        approved=False,
        actor=_actor(),
        reason=body.reason,
    )


@app.post("/models/<name>/versions/<version>/reproduce", summary="Retrain from the lineage; report whether it matches")
def reproduce(name: ModelName, version: VersionNumber) -> dict[str, Any]:
    return admin.reproduce_via(ApiSettings.from_environment().reproduce_function, _registry(), name, version, _actor())


@app.get("/models/<name>/versions/<version>/card", summary="The model card (JSON, or Markdown with ?format=md)")
def model_card(name: ModelName, version: VersionNumber) -> Response[Any]:
    document = admin.card(_registry(), name, version)
    if app.current_event.get_query_string_value("format", "json") == "md":
        return Response(
            status_code=200, content_type="text/markdown; charset=utf-8", body=cards.render_markdown(document)
        )
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=document)


@app.get("/models/<name>/audit", summary="The append-only audit trail of a model")
def audit(name: ModelName) -> list[dict[str, Any]]:
    return admin.audit(_registry(), name)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
