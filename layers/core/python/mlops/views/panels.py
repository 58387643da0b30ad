"""What the registry dashboard shows of each model, read once: its versions, aliases, audit events, the monitor with
its recent checks and latest drift report, the card of its production (or latest) version, and how it served over
time (requests, errors, p50/p99 latency per period: the predict function's own metrics, read from CloudWatch with one
GetMetricData call per model)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from mlops.errors import ArtifactMissing
from mlops.governance import cards
from mlops.monitoring.store import MonitoringStore, StoredMonitor
from mlops.records.registry import PRODUCTION, AliasRecord, AuditEvent, ModelEntry, VersionRecord
from mlops.registry.store import ModelRegistry
from mlops.storage import clients, objects
from mlops.storage.codec import now_iso
from mlops.storage.objects import S3Uri

CHECKS_SHOWN = 50
RUN_EVENTS = ("VersionRegistered", "VersionRejected", "ApprovalRequested", "TrainingRunFailed")
MAX_PERIODS = 48  # points per serving chart
LOOKBACK_S = 7 * 86_400  # the serving charts reach back at most a week, and not before the first version


@dataclass(frozen=True)
class ServingSeries:
    """Requests, 5xx errors and latency percentiles of a model's predict route, one value per period."""

    start: float
    end: float
    period_s: int
    requests: tuple[tuple[float, float], ...] = ()
    errors: tuple[tuple[float, float], ...] = ()
    p50_ms: tuple[tuple[float, float], ...] = ()
    p99_ms: tuple[tuple[float, float], ...] = ()
    available: bool = True  # False: the metrics could not be read (the page says so)

    @property
    def error_rate(self) -> tuple[tuple[float, float], ...]:
        errors = dict(self.errors)
        return tuple((at, errors.get(at, 0.0) / count) for at, count in self.requests if count)

    @property
    def total_requests(self) -> int:
        return int(round(sum(count for _, count in self.requests)))

    @property
    def total_errors(self) -> int:
        return int(round(sum(count for _, count in self.errors)))


def window(first_at: float | None, now: float) -> tuple[float, float, int]:
    start = max(now - LOOKBACK_S, first_at if first_at is not None else now - 3600)
    period = max(60, math.ceil((now - start) / MAX_PERIODS / 60) * 60)
    return start - start % period, now, period


@dataclass(frozen=True)
class CloudWatchServing:
    """The predict function's per-model metrics (``mlops.serving.http.RequestMetrics``), read back."""

    namespace: str = field(default_factory=lambda: os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "ServerlessMLOps"))
    service: str = field(default_factory=lambda: os.environ.get("POWERTOOLS_SERVICE_NAME", "mlops"))
    client: Any = None

    def __call__(self, model_name: str, start: float, end: float, period_s: int) -> ServingSeries:
        from mlops.records.metrics import (  # noqa: PLC0415
            METRIC_DIMENSION_MODEL,
            METRIC_DIMENSION_SERVICE,
            PREDICT_ERRORS_METRIC,
            PREDICT_LATENCY_METRIC,
        )

        dimensions = [
            {"Name": METRIC_DIMENSION_SERVICE, "Value": self.service},
            {"Name": METRIC_DIMENSION_MODEL, "Value": model_name},
        ]

        def query(query_id: str, metric: str, stat: str) -> dict[str, Any]:
            metric_of = {"Namespace": self.namespace, "MetricName": metric, "Dimensions": dimensions}
            return {"Id": query_id, "MetricStat": {"Metric": metric_of, "Period": period_s, "Stat": stat}}

        try:
            answer = (self.client or clients.client("cloudwatch")).get_metric_data(
                MetricDataQueries=[
                    query("requests", PREDICT_ERRORS_METRIC, "SampleCount"),
                    query("errors", PREDICT_ERRORS_METRIC, "Sum"),
                    query("p50", PREDICT_LATENCY_METRIC, "p50"),
                    query("p99", PREDICT_LATENCY_METRIC, "p99"),
                ],
                StartTime=datetime.fromtimestamp(start, UTC),
                EndTime=datetime.fromtimestamp(end + 1, UTC),
            )
        except ClientError:
            return ServingSeries(start, end, period_s, available=False)
        series = {
            result["Id"]: tuple(
                sorted(
                    (stamp.timestamp(), float(value))
                    for stamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
                    if value is not None
                )
            )
            for result in answer["MetricDataResults"]
        }
        return ServingSeries(
            start,
            end,
            period_s,
            requests=series.get("requests", ()),
            errors=series.get("errors", ()),
            p50_ms=series.get("p50", ()),
            p99_ms=series.get("p99", ()),
        )


@dataclass(frozen=True)
class LastRun:
    at: str
    outcome: str  # e.g. "v3 Registered", "failed: PrepareFailed: InvalidDataset"
    run: str


@dataclass(frozen=True)
class ModelPanel:
    """Everything the dashboard shows of one model, read once."""

    model: ModelEntry
    versions: tuple[VersionRecord, ...]
    aliases: tuple[AliasRecord, ...]
    events: tuple[AuditEvent, ...]
    monitor: StoredMonitor
    checks: tuple[dict[str, Any], ...]
    card: dict[str, Any] | None
    drift_report_html: str | None
    serving: ServingSeries | None = None

    @property
    def name(self) -> str:
        return self.model.model_name

    @property
    def production(self) -> AliasRecord | None:
        return next((alias for alias in self.aliases if alias.alias == PRODUCTION), None)

    @property
    def last_run(self) -> LastRun | None:
        """The newest run the registry knows of: a version it registered (or rejected), or a failure it recorded."""
        statuses = {v.version: v.status for v in self.versions}
        runs = [
            LastRun(
                event.at, _run_outcome(event, statuses), str((event.after or {}).get("execution_arn") or event.actor)
            )
            for event in self.events
            if event.event_type in RUN_EVENTS
        ]
        runs += [LastRun(v.created_at, f"v{v.version} {v.status}", v.run_id) for v in self.versions]
        return max(runs, key=lambda run: run.at, default=None)


def _after(event: AuditEvent) -> dict[str, Any]:
    return event.after if isinstance(event.after, dict) else {}


def _run_outcome(event: AuditEvent, statuses: Mapping[int, str]) -> str:
    """What the run came to, as the registry holds it now: a version's current status (a version whose approval was
    requested and then rejected reads Rejected, not ApprovalRequested), or the failure the run recorded."""
    after = event.after if isinstance(event.after, dict) else {}
    if event.event_type == "TrainingRunFailed":
        return f"failed: {event.reason}"
    version = after.get("version")
    if not version:
        return event.event_type
    return f"v{version} {statuses.get(version, event.event_type)}"


@dataclass(frozen=True)
class Dashboard:
    generated_at: str
    panels: tuple[ModelPanel, ...]


def collect(
    registry: ModelRegistry,
    monitors: MonitoringStore,
    *,
    read_object: Callable[[S3Uri], bytes] = objects.get_bytes,
    read_serving: Callable[[str, float, float, int], ServingSeries] | None = None,
    now: float | None = None,
) -> Dashboard:
    """Read every model's records, monitor, latest drift report, the card of its production (or latest) version and
    its serving metrics since its first version (at most a week back)."""
    now = time.time() if now is None else now
    read_serving = read_serving or CloudWatchServing()
    panels = []
    for model in sorted(registry.list_models(), key=lambda m: m.model_name):
        name = model.model_name
        versions = tuple(sorted(registry.list_versions(name), key=lambda v: v.version))
        aliases = tuple(registry.list_aliases(name))
        events = tuple(registry.list_events(name))
        production = next((a for a in aliases if a.alias == PRODUCTION), None)
        shown = next((v for v in versions if production and v.version == production.version), None)
        shown = shown or (versions[-1] if versions else None)
        checks = tuple(monitors.list_checks(name, CHECKS_SHOWN))
        panels.append(
            ModelPanel(
                model=model,
                versions=versions,
                aliases=aliases,
                events=events,
                monitor=monitors.get(name),
                checks=checks,
                card=cards.build_card(shown, events) if shown else None,
                drift_report_html=_latest_report(checks, read_object),
                serving=read_serving(name, *window(_first_at(versions), now)),
            )
        )
    return Dashboard(generated_at=now_iso(), panels=tuple(panels))


def _first_at(versions: Sequence[VersionRecord]) -> float | None:
    from mlops.monitoring.partitions import epoch_seconds  # noqa: PLC0415

    return min((epoch_seconds(v.created_at) for v in versions), default=None)


def _latest_report(checks: Sequence[Mapping[str, Any]], read_object: Callable[[S3Uri], bytes]) -> str | None:
    uri = next((c.get("html_uri") for c in checks if c.get("html_uri")), None)
    if not uri:
        return None
    try:
        return read_object(S3Uri.parse(uri)).decode("utf-8", errors="replace")
    except (ArtifactMissing, ClientError, ValueError):
        return None
