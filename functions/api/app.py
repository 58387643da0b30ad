"""Admin API: training runs, registry browsing, deployments, canaries and rollbacks (IAM-authorised routes).

Powertools' event_handler validates every request against the annotated models and generates the OpenAPI
document (`openapi.json`, written by `python -m tools.write_openapi`).
"""

import base64
import binascii
import json
import time
from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from mlops.api import admin
from mlops.errors import (
    DeploymentRefused,
    InvalidAliasName,
    InvalidFeedback,
    InvalidMonitoringConfig,
    InvalidTag,
    InvalidTrainingRequest,
    ModelNotFound,
    PolicyViolation,
    SmokeTestFailed,
    VersionConflict,
)
from mlops.governance import cards
from mlops.governance import policy as governance
from mlops.monitoring import store
from mlops.monitoring.feedback import accept_feedback
from mlops.records.batch import JOB_ID_PATTERN, BatchJobRequest
from mlops.records.registry import (
    ALIAS_NAME_PATTERN,
    MODEL_NAME_PATTERN,
    TAG_KEY_PATTERN,
    TAG_VALUE_MAX_CHARS,
    VERSION_STATUSES,
)
from mlops.records.request import TrainingRequest
from mlops.registry.store import ModelRegistry
from mlops.settings import (
    ApiSettings,
    ApprovalSettings,
    BatchApiSettings,
    GovernanceSettings,
    ScheduleSettings,
    Settings,
)
from mlops.storage import objects
from mlops.views import dashboard

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)


class ErrorBody(BaseModel):
    message: str
    error: str | None = None


def _responses(*codes: int) -> dict[int, dict[str, Any]]:
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
AliasName = Annotated[str, Path(pattern=ALIAS_NAME_PATTERN, description="alias name, e.g. production or staging")]
TagKey = Annotated[str, Path(pattern=TAG_KEY_PATTERN, description="tag key")]
VersionStatus = Literal[VERSION_STATUSES]  # type: ignore[valid-type]


class StartTraining(TrainingRequest):
    requested_by: None = Field(  # type: ignore[assignment]
        default=None, description="not accepted: the run records the caller's IAM identity as its requester"
    )
    client_token: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="retrying with the same token never starts a second run",
    )


class Deployment(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    version: int = Field(ge=1)
    canary_weight: float | None = Field(default=None, ge=0, le=1, description="omit or 1 for production")
    reason: str = Field(default="", max_length=500)


class AliasAssignment(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    version: int = Field(ge=1)
    reason: str = Field(default="", max_length=500)


class TagValue(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    value: str = Field(max_length=TAG_VALUE_MAX_CHARS)
    reason: str = Field(default="", max_length=500)


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=500)


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500, pattern=r"\S", description="why; recorded in the audit trail")


def _registry() -> ModelRegistry:
    return ModelRegistry.from_settings(Settings.from_environment())


def _actor() -> str:
    """The caller's IAM identity, as API Gateway's IAM authoriser put it in the request context (never a body
    field): the requester of the runs it starts and the actor of every change it makes."""
    identity = app.current_event.request_context.identity
    return identity.user_arn or identity.caller or "anonymous"


def _error(status: int, exc: Exception) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"message": str(exc), "error": type(exc).__name__},
    )


@app.exception_handler(PolicyViolation)
def forbidden(exc: PolicyViolation) -> Response:
    return _error(403, exc)


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


@app.exception_handler([InvalidTrainingRequest, InvalidAliasName, InvalidTag])
def invalid(exc: Exception) -> Response:
    return _error(422, exc)


@app.post(
    "/pipelines/training",
    summary="Start a training run (idempotent on client_token)",
    responses={202: {"description": "started"}, **_responses(403, 409, 422)},
)
def start_training(request: StartTraining) -> Response[dict[str, Any]]:
    body = TrainingRequest.model_validate(
        {**request.model_dump(exclude={"client_token", "requested_by"}), "requested_by": _actor()}
    )
    governance.enforce(body, GovernanceSettings.from_environment())  # 403 before anything starts
    execution, started = admin.start_training(
        ApiSettings.from_environment().training_pipeline_arn, body, request.client_token
    )
    return Response(
        status_code=202 if started else 200,
        content_type=content_types.APPLICATION_JSON,
        body={**execution, "started": started},
    )


@app.get(
    "/pipelines/training/<execution_id>",
    summary="Status and result of a training run",
    responses={**_responses(404, 422)},
)
def get_training(
    execution_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,80}$")],
    steps: Annotated[bool, Query(description="also list the states entered and exited so far")] = False,
) -> dict[str, Any]:
    return admin.describe_training(ApiSettings.from_environment().training_pipeline_arn, execution_id, with_steps=steps)


@app.get(
    "/pipelines/training",
    summary="The newest training runs (newest first), with their status and model",
    responses={**_responses(422)},
)
def list_training(limit: Annotated[int, Query(ge=1, le=100, description="how many runs")] = 20) -> list[dict[str, Any]]:
    return admin.list_training(ApiSettings.from_environment().training_pipeline_arn, limit)


@app.get("/models", summary="Registered models with their production version", responses={**_responses()})
def list_models() -> list[dict[str, Any]]:
    return admin.list_models(_registry())


@app.get("/models/<name>", summary="A model with its aliases (production, canary)", responses={**_responses(404, 422)})
def get_model(name: ModelName) -> dict[str, Any]:
    return admin.get_model(_registry(), name)


@app.get(
    "/models/<name>/versions",
    summary="Versions of a model, with their tags and aliases; filtered by tag, status and alias",
    responses={**_responses(404, 422)},
)
def list_versions(
    name: ModelName,
    tag: Annotated[
        list[str] | None, Query(description="key=value (that value) or key (any value); repeat to require several")
    ] = None,
    status: Annotated[VersionStatus | None, Query(description="only versions with this status")] = None,
    alias: Annotated[
        str | None, Query(pattern=ALIAS_NAME_PATTERN, description="only the version this alias points at")
    ] = None,
) -> list[dict[str, Any]]:
    tags = admin.parse_tag_filters(tag or [])
    return admin.list_versions(_registry(), name, tags=tags, status=status, alias=alias)


@app.get(
    "/models/<name>/versions/<version>",
    summary="The full record of a version (metrics, lineage, ...)",
    responses={**_responses(404, 422)},
)
def get_version(name: ModelName, version: VersionNumber) -> dict[str, Any]:
    return admin.get_version(_registry(), name, version)


@app.post(
    "/models/<name>/deployments",
    summary="Smoke-test a version, then deploy it or start a canary",
    responses={**_responses(404, 409, 422)},
)
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


@app.post(
    "/models/<name>/promote", summary="Make the canary the production version", responses={**_responses(404, 409, 422)}
)
def promote(name: ModelName, body: Annotated[Reason | None, Body()] = None) -> dict[str, Any]:
    reason = (body.reason if body else "") or "promoted through the admin API"
    return admin.public_alias(_registry().promote(name, actor=_actor(), reason=reason))


@app.post(
    "/models/<name>/rollback",
    summary="Drop the canary, or return production to its previous version",
    responses={**_responses(404, 409, 422)},
)
def rollback(name: ModelName, body: Annotated[Reason | None, Body()] = None) -> dict[str, Any]:
    reason = (body.reason if body else "") or "rolled back through the admin API"
    return admin.public_alias(_registry().rollback(name, actor=_actor(), reason=reason))


@app.put(
    "/models/<name>/aliases/<alias>",
    summary="Smoke-test a version, then point a named alias at it (production: a deployment without canary)",
    responses={**_responses(404, 409, 422)},
)
def set_alias(name: ModelName, alias: AliasName, body: AliasAssignment) -> dict[str, Any]:
    return admin.set_alias(
        _registry(),
        ApiSettings.from_environment().predict_function,
        name,
        alias,
        version=body.version,
        actor=_actor(),
        reason=body.reason or "alias set through the admin API",
    )


@app.delete(
    "/models/<name>/aliases/<alias>",
    summary="Remove a named alias (not production: deploy or roll back instead)",
    responses={**_responses(404, 409, 422)},
)
def delete_alias(name: ModelName, alias: AliasName, body: Annotated[Reason | None, Body()] = None) -> dict[str, Any]:
    reason = (body.reason if body else "") or "alias removed through the admin API"
    return admin.delete_alias(_registry(), name, alias, actor=_actor(), reason=reason)


@app.put(
    "/models/<name>/versions/<version>/tags/<key>",
    summary="Set a tag of a version (audited)",
    responses={**_responses(404, 409, 422)},
)
def set_tag(name: ModelName, version: VersionNumber, key: TagKey, body: TagValue) -> dict[str, Any]:
    reason = body.reason or "tag set through the admin API"
    return admin.set_tag(_registry(), name, version, key, body.value, actor=_actor(), reason=reason)


@app.delete(
    "/models/<name>/versions/<version>/tags/<key>",
    summary="Delete a tag of a version (audited)",
    responses={**_responses(404, 409, 422)},
)
def delete_tag(
    name: ModelName, version: VersionNumber, key: TagKey, body: Annotated[Reason | None, Body()] = None
) -> dict[str, Any]:
    reason = (body.reason if body else "") or "tag deleted through the admin API"
    return admin.delete_tag(_registry(), name, version, key, actor=_actor(), reason=reason)


@app.post(
    "/models/<name>/versions/<version>/approve",
    summary="Approve a PendingApproval version (resumes its run): by a listed approver (ApproverPrincipalArns), never "
    "by the identity that requested the run (an assumed role's sessions are one identity)",
    responses={**_responses(403, 404, 409, 422)},
)
def approve(name: ModelName, version: VersionNumber, body: Annotated[Reason | None, Body()] = None) -> dict[str, Any]:
    reason = (body.reason if body else "") or "approved through the admin API"
    return admin.decide(
        _registry(),
        Settings.from_environment().artifacts_bucket,
        name,
        version,
        approved=True,
        actor=_actor(),
        approvers=ApprovalSettings.from_environment().approver_principals,
        reason=reason,
    )


@app.post(
    "/models/<name>/versions/<version>/reject",
    summary="Reject a PendingApproval version (stops its run): by a listed approver (ApproverPrincipalArns)",
    responses={**_responses(403, 404, 409, 422)},
)
def reject(name: ModelName, version: VersionNumber, body: Rejection) -> dict[str, Any]:
    return admin.decide(
        _registry(),
        Settings.from_environment().artifacts_bucket,
        name,
        version,
        approved=False,
        actor=_actor(),
        approvers=ApprovalSettings.from_environment().approver_principals,
        reason=body.reason,
    )


@app.post(
    "/models/<name>/versions/<version>/reproduce",
    summary="Retrain from the lineage; report whether it matches",
    responses={**_responses(404, 409, 422)},
)
def reproduce(name: ModelName, version: VersionNumber) -> dict[str, Any]:
    return admin.reproduce_via(ApiSettings.from_environment().reproduce_function, _registry(), name, version, _actor())


@app.get(
    "/models/<name>/versions/<version>/card",
    summary="The model card (JSON, or Markdown with ?format=md)",
    responses={**_responses(404, 422)},
)
def model_card(name: ModelName, version: VersionNumber) -> Response[Any]:
    document = admin.card(_registry(), name, version)
    if app.current_event.get_query_string_value("format", "json") == "md":
        return Response(
            status_code=200, content_type="text/markdown; charset=utf-8", body=cards.render_markdown(document)
        )
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=document)


@app.get("/models/<name>/audit", summary="The append-only audit trail of a model", responses={**_responses(404, 422)})
def audit(name: ModelName) -> list[dict[str, Any]]:
    return admin.audit(_registry(), name)


# ---- monitoring: ground truth and drift checks -----------------------------------------------------------------
class GroundTruth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inference_id: str = Field(min_length=1, max_length=256, description="as the predict route returned it")
    label: StrictStr | StrictInt | StrictFloat = Field(description="the actual class (classification) or value")


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    labels: list[GroundTruth] = Field(min_length=1, max_length=1000)


@app.exception_handler([InvalidFeedback, InvalidMonitoringConfig])
def invalid_monitoring_input(exc: Exception) -> Response:
    return _error(422, exc)


@app.post(
    "/models/<name>/feedback",
    summary="Ground truth for served predictions, keyed by inference_id (drift checks report live metrics from it)",
    responses={**_responses(404, 422)},
)
def feedback(name: ModelName, body: Feedback) -> Response[dict[str, Any]]:
    accepted = accept_feedback(
        _registry(), Settings.from_environment().artifacts_bucket, name, [item.model_dump() for item in body.labels]
    )
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=accepted)


def _monitors() -> store.MonitoringStore:
    return store.MonitoringStore(Settings.from_environment().monitor_table)


@app.get(
    "/models/<name>/monitoring",
    summary="Drift monitoring of a model: its settings, its schedule, the monitor's state and the latest checks",
    responses={**_responses(404, 422)},
)
def monitoring_status(name: ModelName) -> dict[str, Any]:
    return admin.monitoring(
        _registry(), _monitors(), name, schedule=ScheduleSettings.from_environment(), now=time.time()
    )


@app.put(
    "/models/<name>/monitoring",
    summary='Replace a model\'s monitoring settings (overrides of the stack\'s, e.g. {"schedule": {"rate": '
    '"rate(6 hours)"}, "drift": {"psi_threshold": 0.2}}; {} returns to the stack\'s), audited',
    responses={**_responses(404, 422)},
)
def set_monitoring(name: ModelName, settings: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    return admin.set_monitoring(
        _registry(),
        _monitors(),
        name,
        settings,
        schedule=ScheduleSettings.from_environment(),
        actor=_actor(),
        now=time.time(),
    )


@app.delete(
    "/models/<name>/monitoring",
    summary="Stop the model's scheduled drift checks (its settings are kept; a PUT turns them back on), audited",
    responses={**_responses(404, 422)},
)
def stop_monitoring(name: ModelName) -> dict[str, Any]:
    return admin.stop_monitoring(
        _registry(), _monitors(), name, schedule=ScheduleSettings.from_environment(), actor=_actor(), now=time.time()
    )


@app.get(
    "/models/<name>/monitoring/report",
    summary="The latest drift check's HTML report (or the check's with ?check_id=)",
    responses={**_responses(404, 422)},
)
def monitoring_report(name: ModelName) -> Response[str]:
    registry = _registry()
    registry.get_model(name)
    wanted = app.current_event.get_query_string_value("check_id")
    checks = store.MonitoringStore(Settings.from_environment().monitor_table).list_checks(name, limit=100)
    check = next((c for c in checks if wanted in (None, c.get("check_id"))), None)
    if check is None or not check.get("html_uri"):
        raise ModelNotFound(f"no drift report for {name}" + (f" with check_id {wanted!r}" if wanted else ""))
    html = objects.get_bytes(objects.S3Uri.parse(check["html_uri"])).decode("utf-8")
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=html)


# ---- batch scoring (BatchTransform) ---------------------------------------------------------------------------------
JobId = Annotated[str, Path(pattern=JOB_ID_PATTERN, description="the job id POST .../batch-jobs answered")]


@app.post(
    "/models/<name>/batch-jobs",
    summary="Score a CSV in S3 with a model's alias (BatchTransform); answers 202 with the job id",
    responses={202: {"description": "started"}, **_responses(403, 404, 422)},
)
def start_batch_job(name: ModelName, request: BatchJobRequest) -> Response[dict[str, Any]]:
    _registry().get_model(name)  # 404 before anything starts
    governance.enforce_input_location(request.input_uri, GovernanceSettings.from_environment())  # 403
    job = admin.start_batch_job(BatchApiSettings.from_environment().batch_transform_arn, name, request)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=job)


@app.get(
    "/models/<name>/batch-jobs/<job_id>",
    summary="A batch job: status, counts (rows, scored, invalid), output and errors URIs",
    responses={**_responses(404, 422)},
)
def get_batch_job(name: ModelName, job_id: JobId) -> dict[str, Any]:
    return admin.describe_batch_job(
        BatchApiSettings.from_environment().batch_transform_arn,
        Settings.from_environment().artifacts_bucket,
        name,
        job_id,
    )


# ---- the registry dashboard ----------------------------------------------------------------------------------------
@app.post(
    "/dashboard",
    summary="Render the registry dashboard (one self-contained HTML page) to S3 and answer a presigned URL to open it",
    responses={**_responses()},
)
def publish_dashboard() -> dict[str, Any]:
    settings = Settings.from_environment()
    page = dashboard.render(_registry(), store.MonitoringStore(settings.monitor_table))
    return dashboard.publish(settings.artifacts_bucket, page)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    problem = _undecodable_body(event)
    if problem:  # the resolver would raise on these; they are the caller's mistake: 4xx, not 500
        return {
            "statusCode": 415 if problem.startswith("the body must be application/json") else 400,
            "headers": {"Content-Type": content_types.APPLICATION_JSON},
            "body": json.dumps({"message": problem, "error": "BadRequest"}),
        }
    return app.resolve(event, context)


def _undecodable_body(event: Any) -> str | None:
    if not isinstance(event, dict):
        return "the request is not an API Gateway proxy event"
    body = event.get("body")
    headers = (
        {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
        if isinstance(event.get("headers"), dict)
        else {}
    )
    content_type = str(headers.get("content-type", "application/json")).split(";")[0].strip().lower()
    if body not in (None, "") and content_type not in ("application/json", ""):
        return f"the body must be application/json, not {content_type}"
    if body is None or not event.get("isBase64Encoded"):
        return None if body is None or isinstance(body, str) else "the request body must be a string"
    try:
        base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, TypeError, ValueError):
        return "the body is flagged base64 but is not base64-encoded UTF-8"
    return None
