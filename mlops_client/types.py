"""What the SDK returns: typed views of the API's JSON documents. Each keeps the document it was read from
(``document``), so a field the API adds later is never out of reach."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


@dataclass(frozen=True)
class Alias:
    """Where an alias points: its version, the one before (the rollback target) and any canary."""

    alias: str
    version: int
    previous_version: int | None
    canary_version: int | None
    canary_weight: float
    updated_at: str | None
    updated_by: str | None
    reason: str
    document: dict[str, Any] = field(repr=False)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Alias:
        return cls(
            alias=document["alias"],
            version=document["version"],
            previous_version=document.get("previous_version"),
            canary_version=document.get("canary_version"),
            canary_weight=float(document.get("canary_weight") or 0.0),
            updated_at=document.get("updated_at"),
            updated_by=document.get("updated_by"),
            reason=document.get("reason") or "",
            document=document,
        )


@dataclass(frozen=True)
class ModelSummary:
    """A registered model as ``GET /models`` lists it."""

    model_name: str
    latest_version: int
    production_version: int | None
    updated_at: str | None
    document: dict[str, Any] = field(repr=False)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> ModelSummary:
        return cls(
            model_name=document["model_name"],
            latest_version=document["latest_version"],
            production_version=document.get("production_version"),
            updated_at=document.get("updated_at"),
            document=document,
        )


@dataclass(frozen=True)
class Model:
    """A registered model and its aliases (``production``, ``staging``, ...)."""

    model_name: str
    latest_version: int
    updated_at: str | None
    aliases: dict[str, Alias]
    document: dict[str, Any] = field(repr=False)

    @property
    def production_version(self) -> int | None:
        production = self.aliases.get("production")
        return production.version if production else None

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Model:
        return cls(
            model_name=document["model_name"],
            latest_version=document["latest_version"],
            updated_at=document.get("updated_at"),
            aliases={name: Alias.from_document(a) for name, a in (document.get("aliases") or {}).items()},
            document=document,
        )


@dataclass(frozen=True)
class Feature:
    """One input column of a version's schema: its name and kind (numeric, categorical, datetime, ...)."""

    name: str
    kind: str
    document: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Schema:
    """The columns a version predicts from (what the predict route validates against)."""

    features: list[Feature]
    document: dict[str, Any] = field(repr=False)

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @classmethod
    def from_document(cls, document: dict[str, Any] | None) -> Schema:
        document = document or {}
        features = [Feature(f["name"], f.get("kind", ""), f) for f in document.get("features") or []]
        return cls(features=features, document=document)


@dataclass(frozen=True)
class Lineage:
    """Where a version came from: its data (URI, sha256, rows), its run, who asked, the libraries that trained it."""

    dataset_uri: str | None
    data_sha256: str | None
    rows: int | None
    run_id: str | None
    requested_by: str | None
    compute: str | None
    libraries: dict[str, str]
    document: dict[str, Any] = field(repr=False)

    @classmethod
    def from_document(cls, document: dict[str, Any] | None) -> Lineage:
        document = document or {}
        return cls(
            dataset_uri=document.get("dataset_uri"),
            data_sha256=document.get("data_sha256"),
            rows=document.get("rows"),
            run_id=document.get("run_id"),
            requested_by=document.get("requested_by"),
            compute=document.get("compute"),
            libraries=dict(document.get("libraries") or {}),
            document=document,
        )


@dataclass(frozen=True)
class Gate:
    """The gate's decision on a candidate: the metric, both scores, the champion it was compared with, the reasons."""

    decision: str | None
    metric: str | None
    challenger_score: float | None
    champion_score: float | None
    champion_version: int | None
    reasons: list[str]
    document: dict[str, Any] = field(repr=False)

    @property
    def passed(self) -> bool:
        return self.decision == "promote"

    @classmethod
    def from_document(cls, document: dict[str, Any] | None) -> Gate:
        document = document or {}
        return cls(
            decision=document.get("decision"),
            metric=document.get("metric"),
            challenger_score=document.get("challenger_score"),
            champion_score=document.get("champion_score"),
            champion_version=document.get("champion_version"),
            reasons=list(document.get("reasons") or []),
            document=document,
        )


@dataclass(frozen=True)
class Serving:
    """What serves a version: ``onnx`` (converted, parity checked) or ``sklearn``, and why."""

    runtime: str | None
    reason: str
    precision: str | None
    document: dict[str, Any] = field(repr=False)

    @classmethod
    def from_document(cls, document: dict[str, Any] | None) -> Serving:
        document = document or {}
        return cls(document.get("runtime"), document.get("reason") or "", document.get("precision"), document)


@dataclass(frozen=True)
class Cost:
    """What a version's training run cost (up to Register; ``scope`` says what is included), what 1,000 predictions
    and a month of drift checks cost where they were measured, and the price table's region and date."""

    training_run_usd: float | None
    scope: str | None
    per_1000_predictions_usd: float | None
    monitor_monthly_usd: float | None
    lambda_gb_s: float | None
    state_transitions: int | None
    map_child_runs: int | None
    prices_region: str | None
    prices_as_of: str | None
    unavailable: str | None
    document: dict[str, Any] = field(repr=False)

    @classmethod
    def from_document(cls, document: dict[str, Any] | None) -> Cost | None:
        if not document:
            return None
        usage = document.get("usage") or {}
        prices = document.get("prices") or {}
        steps = usage.get("steps") or []

        def total(key: str) -> float | None:
            return (document.get(key) or {}).get("total_usd")

        return cls(
            training_run_usd=total("training_run"),
            scope=usage.get("scope"),
            per_1000_predictions_usd=total("per_1000_predictions"),
            monitor_monthly_usd=total("monitor_monthly"),
            lambda_gb_s=sum(s["memory_mb"] / 1024 * s["duration_s"] for s in steps) if usage else None,
            state_transitions=usage.get("state_transitions"),
            map_child_runs=usage.get("map_child_runs"),
            prices_region=prices.get("region"),
            prices_as_of=prices.get("as_of"),
            unavailable=document.get("unavailable"),
            document=document,
        )


@dataclass(frozen=True)
class VersionSummary:
    """A version as ``GET /models/{name}/versions`` lists it."""

    model_name: str
    version: int
    status: str
    estimator: str | None
    metrics: dict[str, float]
    tags: dict[str, str]
    aliases: list[str]
    created_at: str | None
    document: dict[str, Any] = field(repr=False)

    @classmethod
    def from_document(cls, document: dict[str, Any], model_name: str = "") -> VersionSummary:
        return cls(
            model_name=document.get("model_name") or model_name,
            version=document["version"],
            status=document["status"],
            estimator=document.get("estimator"),
            metrics=dict(document.get("metrics") or {}),
            tags=dict(document.get("tags") or {}),
            aliases=list(document.get("aliases") or []),
            created_at=document.get("created_at"),
            document=document,
        )


@dataclass(frozen=True)
class Version:
    """A version's full record: status, metrics, params, schema, lineage, gate and serving."""

    model_name: str
    version: int
    status: str
    task: str | None
    target: str | None
    estimator: str | None
    metrics: dict[str, float]
    validation_metrics: dict[str, float]
    params: dict[str, Any]
    schema: Schema
    lineage: Lineage
    gate: Gate
    serving: Serving
    tags: dict[str, str]
    artifact_sha256: str | None
    created_at: str | None
    created_by: str | None
    run_id: str | None
    cost: Cost | None
    document: dict[str, Any] = field(repr=False)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Version:
        return cls(
            model_name=document["model_name"],
            version=document["version"],
            status=document["status"],
            task=document.get("task"),
            target=document.get("target"),
            estimator=document.get("estimator"),
            metrics=dict(document.get("metrics") or {}),
            validation_metrics=dict(document.get("validation_metrics") or {}),
            params=dict(document.get("params") or {}),
            schema=Schema.from_document(document.get("schema")),
            lineage=Lineage.from_document(document.get("lineage")),
            gate=Gate.from_document(document.get("gate")),
            serving=Serving.from_document(document.get("serving")),
            tags=dict(document.get("tags") or {}),
            artifact_sha256=document.get("artifact_sha256"),
            created_at=document.get("created_at"),
            created_by=document.get("created_by"),
            run_id=document.get("run_id"),
            cost=Cost.from_document(document.get("cost")),
            document=document,
        )


@dataclass(frozen=True)
class MetricComparison:
    """One metric of two versions: each one's value and ``b - a``."""

    a: float | None
    b: float | None
    difference: float | None


@dataclass(frozen=True)
class Comparison:
    """Two versions side by side: every metric, and every comparable field (``document["fields"]``: field, a, b,
    same, difference), as `mlops versions compare --json` prints it."""

    model_name: str
    a: int
    b: int
    metrics: dict[str, MetricComparison]
    document: dict[str, Any] = field(repr=False)

    @property
    def differences(self) -> list[dict[str, Any]]:
        return [row for row in self.document["fields"] if not row["same"]]


@dataclass(frozen=True)
class RunSummary:
    """A training run as ``GET /pipelines/training`` lists it."""

    execution_id: str
    model_name: str | None
    status: str
    started_at: str | None
    stopped_at: str | None
    document: dict[str, Any] = field(repr=False)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> RunSummary:
        return cls(
            execution_id=document["execution_id"],
            model_name=document.get("model_name"),
            status=document["status"],
            started_at=document.get("started_at"),
            stopped_at=document.get("stopped_at"),
            document=document,
        )


@dataclass(frozen=True)
class Monitoring:
    """A model's drift monitoring: its settings (overrides of the stack's), schedule, monitor state, latest checks."""

    model_name: str
    config: dict[str, Any]
    schedule: dict[str, Any]
    state: dict[str, Any]
    checks: list[dict[str, Any]]
    document: dict[str, Any] = field(repr=False)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Monitoring:
        return cls(
            model_name=document["model_name"],
            config=dict(document.get("config") or {}),
            schedule=dict(document.get("schedule") or {}),
            state=dict(document.get("state") or {}),
            checks=list(document.get("checks") or []),
            document=document,
        )
