"""Reproduce function: retrain a registered version from its lineage and report whether it matches."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.observability import instrumented, metrics
from mlops.records.events import ReproduceEvent, parse_event
from mlops.registry.store import ModelRegistry
from mlops.settings import Settings
from mlops.storage import layout, objects
from mlops.storage.codec import now_iso
from mlops.training.reproduce import reproduce_version


@instrumented
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = parse_event(ReproduceEvent, event)
    settings = Settings.from_environment()
    registry = ModelRegistry.from_settings(settings)
    report = reproduce_version(registry.get_version(request.model_name, request.version))
    at = now_iso()
    uri = layout.reproduction_report(settings.artifacts_bucket, request.model_name, request.version, at)
    objects.put_json(uri, report)
    registry.record_event(
        request.model_name,
        "VersionReproduced",
        actor=request.requested_by,
        reason="reproduced" if report["reproduced"] else report["reason"],
        after={"version": request.version, "reproduced": report["reproduced"], "report_uri": str(uri)},
    )
    metrics.add_metric(name="Reproductions", unit=MetricUnit.Count, value=1)
    return {**report, "report_uri": str(uri)}
