"""Governance: a version's reproduction and model card, a model's audit trail, the registry dashboard."""

import os
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router

from mlops.api import governance
from mlops.governance import cards
from mlops.monitoring import store
from mlops.settings import ApiSettings, Settings
from mlops.views import dashboard
from mlops.views.sections import Links

from .conventions import ModelName, VersionNumber, actor, registry, responses

router = Router()


@router.post(
    "/models/<name>/versions/<version>/reproduce",
    summary="Retrain from the lineage; report whether it matches",
    responses={**responses(404, 409, 422)},
)
def reproduce(name: ModelName, version: VersionNumber) -> dict[str, Any]:
    return governance.reproduce_via(
        ApiSettings.from_environment().reproduce_function, registry(), name, version, actor(router.current_event)
    )


@router.get(
    "/models/<name>/versions/<version>/card",
    summary="The model card (JSON, or Markdown with ?format=md)",
    responses={**responses(404, 422)},
)
def model_card(name: ModelName, version: VersionNumber) -> Response[Any]:
    document = governance.card(registry(), name, version)
    if router.current_event.get_query_string_value("format", "json") == "md":
        return Response(
            status_code=200, content_type="text/markdown; charset=utf-8", body=cards.render_markdown(document)
        )
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=document)


@router.get("/models/<name>/audit", summary="The append-only audit trail of a model", responses={**responses(404, 422)})
def audit(name: ModelName) -> list[dict[str, Any]]:
    return governance.audit(registry(), name)


@router.post(
    "/dashboard",
    summary="Render the registry dashboard (one self-contained HTML page) to S3 and answer a presigned URL to open it",
    responses={**responses()},
)
def publish_dashboard() -> dict[str, Any]:
    settings = Settings.from_environment()
    # opened from S3, so its links go to the AWS console of the stack's region (runs, artifacts, reports)
    links = Links(region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    page = dashboard.render(registry(), store.MonitoringStore(settings.monitor_table), links=links)
    return dashboard.publish(settings.artifacts_bucket, page)
