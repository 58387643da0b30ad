"""Monitoring: ground truth for served predictions, a model's drift-monitoring settings, and its latest reports."""

import time
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from mlops.api import drift_checks, monitoring
from mlops.errors import InvalidFeedback, InvalidMonitoringConfig, ModelNotFound
from mlops.monitoring import store
from mlops.monitoring.feedback import accept_feedback
from mlops.settings import ApiSettings, ScheduleSettings, Settings
from mlops.storage import objects
from mlops.views import dashboard

from .conventions import ClientToken, ModelName, actor, error, registry, responses

router = Router()


class GroundTruth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inference_id: str = Field(min_length=1, max_length=256, description="as the predict route returned it")
    label: StrictStr | StrictInt | StrictFloat = Field(description="the actual class (classification) or value")


class Feedback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    labels: list[GroundTruth] = Field(min_length=1, max_length=1000)


@router.exception_handler([InvalidFeedback, InvalidMonitoringConfig])
def invalid_monitoring_input(exc: Exception) -> Response:
    return error(422, exc)


@router.post(
    "/models/<name>/feedback",
    summary="Ground truth for served predictions, keyed by inference_id (drift checks report live metrics from it)",
    responses={**responses(404, 422)},
)
def feedback(name: ModelName, body: Feedback) -> Response[dict[str, Any]]:
    accepted = accept_feedback(
        registry(),
        Settings.from_environment().artifacts_bucket,
        name,
        [item.model_dump() for item in body.labels],
        actor=actor(router.current_event),
    )
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=accepted)


def _monitors() -> store.MonitoringStore:
    return store.MonitoringStore(Settings.from_environment().monitor_table)


@router.get(
    "/models/<name>/monitoring",
    summary="Drift monitoring of a model: its settings, its schedule, the monitor's state and the latest checks",
    responses={**responses(404, 422)},
)
def monitoring_status(name: ModelName) -> dict[str, Any]:
    return monitoring.monitoring(
        registry(), _monitors(), name, schedule=ScheduleSettings.from_environment(), now=time.time()
    )


@router.put(
    "/models/<name>/monitoring",
    summary='Replace a model\'s monitoring settings (overrides of the stack\'s, e.g. {"schedule": {"rate": '
    '"rate(6 hours)"}, "drift": {"psi_threshold": 0.2}}; {} returns to the stack\'s), audited',
    responses={**responses(404, 422)},
)
def set_monitoring(name: ModelName, settings: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    return monitoring.set_monitoring(
        registry(),
        _monitors(),
        name,
        settings,
        schedule=ScheduleSettings.from_environment(),
        actor=actor(router.current_event),
        now=time.time(),
    )


@router.delete(
    "/models/<name>/monitoring",
    summary="Stop the model's scheduled drift checks (its settings are kept; a PUT turns them back on), audited",
    responses={**responses(404, 422)},
)
def stop_monitoring(name: ModelName) -> dict[str, Any]:
    return monitoring.stop_monitoring(
        registry(),
        _monitors(),
        name,
        schedule=ScheduleSettings.from_environment(),
        actor=actor(router.current_event),
        now=time.time(),
    )


@router.get(
    "/models/<name>/monitoring/report",
    summary="The latest drift check's HTML report (or the check's with ?check_id=)",
    responses={**responses(404, 422)},
)
def monitoring_report(name: ModelName) -> Response[str]:
    models = registry()
    models.get_model(name)
    wanted = router.current_event.get_query_string_value("check_id")
    checks = store.MonitoringStore(Settings.from_environment().monitor_table).list_checks(name, limit=100)
    check = next((c for c in checks if wanted in (None, c.get("check_id"))), None)
    if check is None or not check.get("html_uri"):
        raise ModelNotFound(f"no drift report for {name}" + (f" with check_id {wanted!r}" if wanted else ""))
    html = objects.get_bytes(objects.S3Uri.parse(check["html_uri"])).decode("utf-8")
    return Response(
        status_code=200,
        content_type="text/html; charset=utf-8",
        body=html,
        headers={"Content-Security-Policy": dashboard.PAGE_CSP, "X-Content-Type-Options": "nosniff"},
    )


class StartCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_token: ClientToken
    reason: str = Field(default="", max_length=500, description="why the check is asked for (audited)")


@router.post(
    "/models/<name>/monitoring/checks",
    summary="Run the model's drift check now: the DriftCheck execution the schedule starts (same window, same "
    "cooldown), once per client_token, one at a time per model; audited",
    responses={202: {"description": "started"}, **responses(404, 409, 422)},
)
def start_check(name: ModelName, body: StartCheck) -> Response[dict[str, Any]]:
    check, started = drift_checks.start_check(
        registry(),
        ApiSettings.from_environment().drift_check_arn,
        name,
        body.client_token,
        actor=actor(router.current_event),
        reason=body.reason,
    )
    return Response(
        status_code=202 if started else 200,
        content_type=content_types.APPLICATION_JSON,
        body={**check, "started": started},
    )


@router.get(
    "/models/<name>/monitoring/checks/<execution_id>",
    summary="An on-demand drift check: its status and, once ended, its summary (check_id for the report route)",
    responses={**responses(404, 422)},
)
def get_check(
    name: ModelName,
    execution_id: Annotated[
        str, Path(pattern=r"^[A-Za-z0-9_-]{1,80}$", description="as POST .../monitoring/checks answered it")
    ],
) -> dict[str, Any]:
    registry().get_model(name)
    return drift_checks.describe_check(ApiSettings.from_environment().drift_check_arn, name, execution_id)
