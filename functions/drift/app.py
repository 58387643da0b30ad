"""Drift function: one scheduled drift check of a model (report, metrics, decision), the record of the retraining
run the DriftCheck state machine started, and the plan of a schedule tick (which models are due). The statistics
live in mlops.monitoring (statistics, reference, window, decision), the check in mlops.monitoring.check; this handler
parses the event and publishes the metrics."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.monitoring.check import MAX_FEATURE_METRICS, record_retraining, run_check
from mlops.monitoring.config import MonitoringConfig
from mlops.monitoring.schedule import plan_tick, tick_at
from mlops.monitoring.store import MonitoringStore
from mlops.observability import instrumented, logger, metrics
from mlops.records.events import DriftCheckEvent, DriftStep, PlanTickEvent, RecordRetrainingEvent, parse_event
from mlops.records.lineage import run_id_of
from mlops.registry.store import ModelRegistry
from mlops.settings import MonitoringSettings, ScheduleSettings, Settings
from mlops.storage.table import ModelTable


def _defaults(settings: MonitoringSettings) -> MonitoringConfig:
    return MonitoringConfig(
        consecutive_windows=settings.consecutive_windows,
        cooldown_hours=settings.cooldown_hours,
        retrain_on_drift=settings.retrain_on_drift,
        capture_settle_s=settings.capture_settle_s,
    )


def _per_model_metric(name: str, unit: str, value: float, model_name: str, **dimensions: str) -> None:
    with single_metric(name=name, unit=unit, value=value, default_dimensions=metrics.default_dimensions) as metric:
        metric.add_dimension(name="model_name", value=model_name)
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)


def publish_metrics(report: dict[str, Any]) -> None:
    """Service-level metrics (what the template's alarms watch) and per-model / per-feature ones."""
    model = report["model_name"]
    monitoring = report["monitoring"]
    metrics.add_metric(name="DriftChecks", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="DatasetDrift", unit=MetricUnit.Count, value=int(report["dataset_drift"]))
    metrics.add_metric(name="DriftConfirmed", unit=MetricUnit.Count, value=int(monitoring["drift_confirmed"]))
    metrics.add_metric(name="PerformanceDegraded", unit=MetricUnit.Count, value=int(monitoring["performance_degraded"]))
    estimated = report.get("estimated_performance") or {}
    metrics.add_metric(
        name="EstimatedPerformanceDegraded", unit=MetricUnit.Count, value=int(estimated.get("degraded", False))
    )
    # the per-model alarms (one contributor per model: Metrics Insights GROUP BY model_name) watch these three
    _per_model_metric("DriftConfirmed", MetricUnit.Count, int(monitoring["drift_confirmed"]), model)
    _per_model_metric("PerformanceDegraded", MetricUnit.Count, int(monitoring["performance_degraded"]), model)
    _per_model_metric("EstimatedPerformanceDegraded", MetricUnit.Count, int(estimated.get("degraded", False)), model)
    for name, estimate in (estimated.get("metrics") or {}).items():
        if estimate.get("value") is not None:  # EstimatedAccuracy, EstimatedF1, EstimatedRocAuc, EstimatedMae
            label = "".join(part.capitalize() for part in name.split("_"))
            _per_model_metric(f"Estimated{label}", MetricUnit.NoUnit, estimate["value"], model)
    metrics.add_metric(
        name="DataQualityViolations", unit=MetricUnit.Count, value=len(report["data_quality"]["violations"])
    )
    _per_model_metric("DriftWindowRows", MetricUnit.Count, report["rows"], model)
    _per_model_metric("DatasetDrift", MetricUnit.Count, int(report["dataset_drift"]), model)
    _per_model_metric("DriftedFeatureShare", MetricUnit.Percent, 100 * report["drift_share"], model)
    ranked = sorted(report["features"].items(), key=lambda item: -item[1]["score"])[:MAX_FEATURE_METRICS]
    for feature, result in ranked:
        _per_model_metric("FeatureDriftScore", MetricUnit.NoUnit, result["score"], model, feature=feature)
    if report.get("prediction"):
        _per_model_metric("PredictionDriftScore", MetricUnit.NoUnit, report["prediction"]["score"], model)
    for name, value in (report.get("performance") or {}).get("live", {}).items():
        _per_model_metric(f"Live{name.capitalize()}", MetricUnit.NoUnit, value, model)


@instrumented
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = Settings.from_environment()
    registry = ModelRegistry.from_settings(settings)
    store = MonitoringStore(settings.monitor_table)
    match parse_event(DriftStep, event).root:
        case PlanTickEvent() as tick:
            return _plan_tick(tick, settings, store)
        case RecordRetrainingEvent() as step:
            metrics.add_metric(name="RetrainingStarted", unit=MetricUnit.Count, value=1)
            return record_retraining(
                step.model_name, step.check_id, step.retraining_execution_arn, store=store, registry=registry
            )
        case DriftCheckEvent() as step:
            return _check(step, settings, registry, store)


def _plan_tick(tick: PlanTickEvent, settings: Settings, store: MonitoringStore) -> dict:
    schedule = ScheduleSettings.from_environment()
    plan = plan_tick(
        tick_at(tick),
        default_rate=schedule.default_rate,
        tick_rate=schedule.tick_rate,
        aliases=ModelTable(settings.alias_table),
        monitors=store,
    )
    metrics.add_metric(name="ScheduledDriftChecks", unit=MetricUnit.Count, value=len(plan.due))
    document = plan.to_document()
    logger.info("tick planned", extra={k: document[k] for k in ("tick_at", "models", "due_count", "not_due")})
    if plan.deferred:
        logger.warning("more models due than one tick starts", extra={"deferred": document["deferred_count"]})
    return document


def _check(step: DriftCheckEvent, settings: Settings, registry: ModelRegistry, store: MonitoringStore) -> dict:
    report, output = run_check(
        step.check.model_name,
        check_id=run_id_of(step.execution_arn),
        bucket=settings.artifacts_bucket,
        registry=registry,
        store=store,
        defaults=_defaults(MonitoringSettings.from_environment()),
        overrides=step.check.config,
    )
    publish_metrics(report)
    logger.info(
        "drift checked",
        extra={key: output[key] for key in ("model_name", "version", "status", "drift_confirmed", "report_uri")},
    )
    return output
