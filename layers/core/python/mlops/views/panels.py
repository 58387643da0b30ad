"""What the registry dashboard shows of each model, read once: its versions, aliases, audit events, the monitor with
its recent checks and latest drift report, and the card of its production (or latest) version."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from mlops.errors import ArtifactMissing
from mlops.governance import cards
from mlops.monitoring.store import MonitoringStore, StoredMonitor
from mlops.records.registry import PRODUCTION, AliasRecord, AuditEvent, ModelEntry, VersionRecord
from mlops.registry.store import ModelRegistry
from mlops.storage import objects
from mlops.storage.codec import now_iso
from mlops.storage.objects import S3Uri

CHECKS_SHOWN = 10
RUN_EVENTS = ("VersionRegistered", "VersionRejected", "ApprovalRequested", "TrainingRunFailed")


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

    @property
    def name(self) -> str:
        return self.model.model_name

    @property
    def production(self) -> AliasRecord | None:
        return next((alias for alias in self.aliases if alias.alias == PRODUCTION), None)

    @property
    def last_run(self) -> LastRun | None:
        """The newest run the registry knows of: a version it registered (or rejected), or a failure it recorded."""
        runs = [
            LastRun(event.at, _run_outcome(event), str((event.after or {}).get("execution_arn") or event.actor))
            for event in self.events
            if event.event_type in RUN_EVENTS
        ]
        runs += [LastRun(v.created_at, f"v{v.version} {v.status}", v.run_id) for v in self.versions]
        return max(runs, key=lambda run: run.at, default=None)


def _run_outcome(event: AuditEvent) -> str:
    after = event.after if isinstance(event.after, dict) else {}
    if event.event_type == "TrainingRunFailed":
        return f"failed: {event.reason}"
    version = after.get("version")
    return f"v{version} {event.event_type}" if version else event.event_type


@dataclass(frozen=True)
class Dashboard:
    generated_at: str
    panels: tuple[ModelPanel, ...]


def collect(
    registry: ModelRegistry,
    monitors: MonitoringStore,
    *,
    read_object: Callable[[S3Uri], bytes] = objects.get_bytes,
) -> Dashboard:
    """Read every model's records, monitor, latest drift report and the card of its production (or latest) version."""
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
            )
        )
    return Dashboard(generated_at=now_iso(), panels=tuple(panels))


def _latest_report(checks: Sequence[Mapping[str, Any]], read_object: Callable[[S3Uri], bytes]) -> str | None:
    uri = next((c.get("html_uri") for c in checks if c.get("html_uri")), None)
    if not uri:
        return None
    try:
        return read_object(S3Uri.parse(uri)).decode("utf-8", errors="replace")
    except (ArtifactMissing, ClientError, ValueError):
        return None
