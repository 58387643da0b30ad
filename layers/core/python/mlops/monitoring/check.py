"""Scheduled drift checks of a deployed model: capture since the last check against the production version's
baseline, ground truth joined to predictions, a report in S3, and the decision to alert and to retrain.

One check (``run_check``) is one step of the DriftCheck state machine:

1. resolve ``production`` → version → baseline (``NothingToMonitor`` / ``BaselineUnavailable`` otherwise);
2. read the capture of that version since the last check (``capture/<model>/dt=.../``), chunk by chunk, into
   fixed-size drift counts; join the feedback labels (``feedback/<model>/dt=.../``) received within the
   performance window to the captured predictions;
3. evaluate drift (``mlops.monitoring.drift``) and live performance against the registered holdout metrics;
4. confirm drift after ``consecutive_windows`` drifted windows in a row; decide whether to retrain (drift
   confirmed or performance degraded, outside the cooldown, with the version's training request) and whether to
   notify (only when something new happened, so a persisting condition does not page every hour);
5. write ``monitoring/<model>/<ts>/report.json`` and ``report.html``, then commit the monitor's state with a
   conditional write: two concurrent checks never both count a window or both start a retraining.

The state lives in the registry table beside the model (``sk = MONITOR``, and ``CHECK#<ts>#<id>`` summaries).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from mlops.contracts import StepEvent
from mlops.errors import (
    ArtifactMissing,
    BaselineUnavailable,
    InvalidMonitoringConfig,
    ModelNotFound,
    NothingToMonitor,
    VersionConflict,
)
from mlops.monitoring import drift, reports
from mlops.monitoring.store import (
    MonitoringStore,
    MonitorState,
    _epoch,
    _is_number,
    _iso,
    _label,
    _lines,
    _objects,
    read_labels,
)
from mlops.registry.records import MODEL_NAME_PATTERN, PRODUCTION
from mlops.registry.store import ModelRegistry
from mlops.storage import objects
from mlops.storage.objects import S3Uri
from mlops.training.request import TrainingRequest

CAPTURE_MARKER = "mlops.capture.v1"
PREDICTION = "prediction"
MAX_FEATURE_METRICS = 100  # per-feature CloudWatch metrics per check (each metric costs money)


# ---- configuration ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MonitoringConfig:
    """What a check decides with. Defaults come from the stack (MonitoringSettings); a model's stored config and
    the check's input override them, in that order. Every value is copied into each report."""

    drift: drift.DriftConfig = field(default_factory=drift.DriftConfig)
    consecutive_windows: int = 2  # drift is confirmed after this many drifted windows in a row
    cooldown_hours: float = 24.0  # no second retraining within this time of the last one
    retrain_on_drift: bool = True
    retrain_on_performance: bool = True
    min_labelled_rows: int = 100  # fewer labelled predictions: performance is not judged
    max_metric_drop: float = 0.05  # classification: live accuracy or F1 this far below the holdout is degraded
    max_error_increase: float = 0.25  # regression: live RMSE or MAE this much (relative) above the holdout
    performance_window_hours: float = 168.0  # labels and predictions joined over this period
    capture_settle_s: float = 300.0  # capture younger than this may still be in Firehose's buffer: next check
    max_window_hours: float = 168.0  # a window never reaches further back than this
    retraining_dataset_uri: str | None = None  # retrain on this data instead of the version's training data

    def __post_init__(self) -> None:
        problems = []
        if not (isinstance(self.consecutive_windows, int) and self.consecutive_windows >= 1):
            problems.append("consecutive_windows must be an integer >= 1")
        if not (isinstance(self.min_labelled_rows, int) and self.min_labelled_rows >= 1):
            problems.append("min_labelled_rows must be an integer >= 1")
        for name in ("cooldown_hours", "max_metric_drop", "max_error_increase", "capture_settle_s"):
            if not getattr(self, name) >= 0:
                problems.append(f"{name} must be >= 0")
        for name in ("performance_window_hours", "max_window_hours"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be > 0")
        uri = self.retraining_dataset_uri
        if uri is not None and not re.match(r"^s3://[^/]+/.+", str(uri)):
            problems.append("retraining_dataset_uri must be an s3:// URI")
        if problems:
            raise InvalidMonitoringConfig("invalid monitoring settings: " + "; ".join(problems))

    @classmethod
    def merged(cls, base: MonitoringConfig, overrides: Mapping[str, Any] | None) -> MonitoringConfig:
        overrides = dict(overrides or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise InvalidMonitoringConfig(
                f"unknown monitoring setting(s): {', '.join(unknown)}; known: {sorted(known)}"
            )
        drift_overrides = overrides.pop("drift", None) or {}
        if not isinstance(drift_overrides, Mapping):
            raise InvalidMonitoringConfig("drift settings must be an object")
        drift_config = drift.DriftConfig.from_dict({**base.drift.to_dict(), **drift_overrides})
        for name in (
            "cooldown_hours",
            "max_metric_drop",
            "max_error_increase",
            "capture_settle_s",
            "performance_window_hours",
            "max_window_hours",
        ):
            if name in overrides and isinstance(overrides[name], int | float) and not isinstance(overrides[name], bool):
                overrides[name] = float(overrides[name])
        try:
            return replace(base, drift=drift_config, **overrides)
        except TypeError as exc:
            raise InvalidMonitoringConfig(f"invalid monitoring settings: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["drift"] = self.drift.to_dict()
        return document


# ---- reading capture and feedback ---------------------------------------------------------------------------
@dataclass
class CaptureScan:
    """What one pass over the capture produced."""

    rows: int = 0  # records of the production version inside the drift window
    other_versions: int = 0  # records in the window served by another version (canary, previous production)
    objects: int = 0
    joined: list[tuple[Any, Any]] = field(default_factory=list)  # (prediction, actual) within the performance window


class _ChunkBuffer:
    """Collects a chunk of records as per-feature lists and hands it to the windows."""

    def __init__(self, window: drift.Window, prediction_window: drift.Window | None, size: int) -> None:
        self.window = window
        self.prediction_window = prediction_window
        self.size = size
        self.records: list[dict[str, Any]] = []

    def add(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        if len(self.records) >= self.size:
            self.flush()

    def flush(self) -> None:
        records, self.records = self.records, []
        if not records:
            return
        reference = self.window.reference
        known = reference.features
        rows = [r.get("features") if isinstance(r.get("features"), dict) else {} for r in records]
        extra: dict[str, int] = {}
        for row in rows:
            for name in row:
                if name not in known:
                    extra[name] = extra.get(name, 0) + 1
        self.window.add_rows(len(rows), extra)
        for name, feature in known.items():
            values = [row.get(name) for row in rows]
            absent = sum(1 for row in rows if name not in row)
            _add_values(self.window, name, feature.kind, values, absent)
        if self.prediction_window is not None:
            (name,) = self.prediction_window.reference.features
            kind = self.prediction_window.reference.features[name].kind
            self.prediction_window.add_rows(len(records))
            _add_values(self.prediction_window, name, kind, [r.get("prediction") for r in records], 0)


def _add_values(window: drift.Window, name: str, kind: str, values: list[Any], absent: int) -> None:
    if kind == "numeric":
        try:
            numbers = np.array(values, dtype=float)  # None -> NaN; fast path for well-typed capture
            mismatched = sum(1 for v in values if isinstance(v, bool))
            if mismatched:
                raise ValueError
        except (TypeError, ValueError):
            numbers = np.full(len(values), np.nan)
            mismatched = 0
            for i, value in enumerate(values):
                if value is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, int | float):
                    mismatched += 1
                else:
                    numbers[i] = float(value)
        window.add_numeric(name, numbers, mismatched=mismatched, absent=absent)
    else:
        mismatched = sum(1 for v in values if v is not None and not isinstance(v, str))
        window.add_categorical(
            name,
            [v if v is None or isinstance(v, str) else str(v) for v in values],
            mismatched=mismatched,
            absent=absent,
        )


def scan_capture(
    bucket: str,
    model_name: str,
    version: int,
    *,
    window_start: float,
    window_end: float,
    buffer: _ChunkBuffer,
    labels: Mapping[str, Any] | None = None,
    labels_start: float | None = None,
) -> CaptureScan:
    """One pass over the capture: records of ``version`` with window_start < timestamp <= window_end feed the
    drift windows; records with a label and a timestamp after ``labels_start`` are joined to it."""
    scan = CaptureScan()
    start = min(window_start, labels_start) if labels and labels_start is not None else window_start
    for key in _objects(bucket, f"capture/{model_name}", start, window_end):
        scan.objects += 1
        for document in _lines(bucket, key):
            if document.get("capture") != CAPTURE_MARKER:
                continue
            timestamp = document.get("timestamp")
            if not isinstance(timestamp, int | float) or not start < timestamp <= window_end:
                continue
            in_window = timestamp > window_start
            for record in document.get("records") or []:
                if not isinstance(record, dict):
                    continue
                if record.get("version", document.get("version")) != version:
                    scan.other_versions += in_window
                    continue
                if in_window:
                    scan.rows += 1
                    buffer.add(record)
                if labels and labels_start is not None and timestamp > labels_start:
                    actual = labels.get(record.get("inference_id"))
                    if actual is not None:
                        scan.joined.append((record.get("prediction"), actual))
    buffer.flush()
    return scan


# ---- live performance ---------------------------------------------------------------------------------------
def live_metrics(joined: list[tuple[Any, Any]], task: str, classes: list[str] | None, positive: str | None) -> dict:
    if task == "regression":
        pairs = [(float(p), float(a)) for p, a in joined if isinstance(p, int | float) and _is_number(a)]
        if not pairs:
            return {}
        errors = np.array([p - a for p, a in pairs])
        return {"rmse": float(math.sqrt(np.mean(errors**2))), "mae": float(np.mean(np.abs(errors)))}
    predicted = np.array([_label(p) for p, _ in joined], dtype=object)
    actual = np.array([_label(a) for _, a in joined], dtype=object)
    if predicted.size == 0:
        return {}
    result = {"accuracy": float(np.mean(predicted == actual))}
    if classes and len(classes) == 2 and positive is not None:
        result["f1"] = _f1(predicted, actual, positive)
    else:
        labels = sorted(set(classes or []) | set(actual.tolist()))
        result["f1"] = float(np.mean([_f1(predicted, actual, label) for label in labels])) if labels else 0.0
    return result


def _f1(predicted: np.ndarray, actual: np.ndarray, label: str) -> float:
    true_positive = float(np.sum((predicted == label) & (actual == label)))
    predicted_positive = float(np.sum(predicted == label))
    actual_positive = float(np.sum(actual == label))
    denominator = predicted_positive + actual_positive
    return 2 * true_positive / denominator if denominator else 0.0


def judge_performance(
    joined: list[tuple[Any, Any]], record: Mapping[str, Any], config: MonitoringConfig
) -> dict[str, Any]:
    task = record.get("task") or (record.get("schema") or {}).get("task", "classification")
    schema = record.get("schema") or {}
    holdout = {k: v for k, v in (record.get("metrics") or {}).items() if k in ("accuracy", "f1", "rmse", "mae")}
    live = live_metrics(joined, task, schema.get("classes"), schema.get("positive_class"))
    result: dict[str, Any] = {
        "labelled_rows": len(joined),
        "min_labelled_rows": config.min_labelled_rows,
        "holdout": holdout,
        "live": live,
        "degraded": False,
        "window_hours": config.performance_window_hours,
    }
    if not joined:
        return {**result, "status": "no_labels", "reason": "no ground truth received for captured predictions"}
    if len(joined) < config.min_labelled_rows:
        return {
            **result,
            "status": "insufficient_labels",
            "reason": f"{len(joined)} labelled predictions, fewer than {config.min_labelled_rows}: not judged",
        }
    problems = []
    if task == "regression":
        result["threshold"] = {"max_error_increase": config.max_error_increase}
        for name in ("rmse", "mae"):
            if name in live and name in holdout and holdout[name] > 0:
                increase = live[name] / holdout[name] - 1
                if increase > config.max_error_increase:
                    problems.append(
                        f"live {name} {live[name]:.4g} is {increase:.0%} above the holdout's {holdout[name]:.4g}"
                    )
    else:
        result["threshold"] = {"max_metric_drop": config.max_metric_drop}
        for name in ("accuracy", "f1"):
            if name in live and name in holdout:
                drop = holdout[name] - live[name]
                if drop > config.max_metric_drop:
                    problems.append(
                        f"live {name} {live[name]:.4f} is {drop:.4f} below the holdout's {holdout[name]:.4f}"
                    )
    if problems:
        return {**result, "status": "degraded", "degraded": True, "reason": "; ".join(problems)}
    return {**result, "status": "ok", "reason": "live metrics are within the tolerance of the holdout's"}


# ---- the check ------------------------------------------------------------------------------------------------
def retraining_request(record: Mapping[str, Any], config: MonitoringConfig, check_id: str, why: str) -> dict | None:
    """The version's own training request, re-validated, as a retraining run's input (None if it has none)."""
    spec = record.get("training_request")
    if not isinstance(spec, dict):
        return None
    request = {k: v for k, v in spec.items() if k in TrainingRequest.model_fields}
    if config.retraining_dataset_uri:
        request["dataset_uri"] = config.retraining_dataset_uri
    request["requested_by"] = f"drift-check:{check_id}"
    note = f"Retrained by drift check {check_id}: {why}"
    request["description"] = (f"{request.get('description', '')}\n{note}".strip())[:2000]
    return TrainingRequest.model_validate(request).model_dump(mode="json", exclude_none=True)


def retraining_execution_name(model_name: str, check_id: str) -> str:
    """Deterministic per check: a retried StartExecution cannot start a second run."""
    digest = hashlib.sha256(f"{model_name}\n{check_id}".encode()).hexdigest()[:16]
    return f"retrain-{re.sub(r'[^A-Za-z0-9_-]', '-', model_name)[:48]}-{digest}"


def _report_prefix(bucket: str, model_name: str, created: datetime) -> str:
    return f"s3://{bucket}/monitoring/{model_name}/{created.strftime('%Y%m%dT%H%M%S.%fZ')}"


def _load_baseline(uri: str | None, model_name: str, version: int) -> dict[str, Any]:
    if not uri:
        raise BaselineUnavailable(f"{model_name} v{version} has no drift baseline recorded")
    try:
        document = objects.get_json(S3Uri.parse(uri))
    except (ArtifactMissing, ClientError, ValueError) as exc:
        raise BaselineUnavailable(f"the baseline {uri} of {model_name} v{version} cannot be read: {exc}") from exc
    if not isinstance(document.get("features"), dict) or "features" not in document["features"]:
        raise BaselineUnavailable(f"the baseline {uri} of {model_name} v{version} has no per-feature statistics")
    return document


def _signature(report: Mapping[str, Any], confirmed: bool, degraded: bool) -> list[str]:
    signals = []
    if confirmed:
        signals.append("drift_confirmed")
    if degraded:
        signals.append("performance_degraded")
    for violation in (report.get("data_quality") or {}).get("violations", []):
        signals.append(f"data_quality:{violation['check']}:{violation.get('feature', '')}")
    return sorted(signals)


@dataclass
class _Context:
    """What a check resolved before reading any data."""

    model_name: str
    check_id: str
    version: int
    record: dict[str, Any]
    baseline: dict[str, Any]
    config: MonitoringConfig
    state: MonitorState
    seen_revision: int | None
    notes: list[str]
    window_start: float
    window_end: float


def _resolve(
    model_name: str,
    check_id: str,
    *,
    registry: ModelRegistry,
    store: MonitoringStore,
    defaults: MonitoringConfig,
    overrides: Mapping[str, Any] | None,
    now: float,
) -> _Context:
    alias = registry.get_alias(model_name, PRODUCTION)
    if alias is None:
        raise NothingToMonitor(f"model {model_name!r} has no production version to monitor")
    version = alias.version
    try:
        record = registry.get_version(model_name, version).to_document()
    except ModelNotFound as exc:
        raise NothingToMonitor(str(exc)) from exc
    baseline = _load_baseline(record.get("baseline_uri"), model_name, version)
    stored = store.get(model_name)
    config = MonitoringConfig.merged(MonitoringConfig.merged(defaults, stored.get("config")), overrides)
    state = MonitorState.from_document(stored.get("state"))
    notes = []
    if state.version != version:
        if state.version is not None:
            notes.append(f"production moved from v{state.version} to v{version}: the window and counters restart")
        deployed_at = alias.updated_at
        state = replace(
            state,
            version=version,
            window_start=_epoch(deployed_at) if deployed_at else None,
            consecutive_drifted=0,
            alert_signature=[],
        )
    window_end = now - config.capture_settle_s
    earliest = window_end - config.max_window_hours * 3600
    window_start = max(state.window_start if state.window_start is not None else earliest, earliest)
    return _Context(
        model_name,
        check_id,
        version,
        record,
        baseline,
        config,
        state,
        stored.get("revision"),
        notes,
        window_start,
        window_end,
    )


def _measure(context: _Context, bucket: str, now: float) -> tuple[dict[str, Any], dict[str, Any], CaptureScan]:
    """Read the window (and the labelled predictions) and evaluate drift and live performance."""
    config = context.config
    reference = drift.Reference.from_baseline(context.baseline["features"]["features"])
    window = drift.Window(reference)
    prediction_pair = None
    prediction_baseline = context.baseline.get("predictions")
    if isinstance(prediction_baseline, dict) and prediction_baseline.get("kind"):
        prediction_reference = drift.Reference.from_baseline({PREDICTION: prediction_baseline})
        prediction_pair = (prediction_reference, drift.Window(prediction_reference))
    buffer = _ChunkBuffer(window, prediction_pair[1] if prediction_pair else None, config.drift.chunk_rows)
    labels_start = now - config.performance_window_hours * 3600
    labels = read_labels(bucket, context.model_name, labels_start, now)
    scan = scan_capture(
        bucket,
        context.model_name,
        context.version,
        window_start=context.window_start,
        window_end=context.window_end,
        buffer=buffer,
        labels=labels,
        labels_start=labels_start,
    )
    result = drift.evaluate(reference, window, config.drift, prediction=prediction_pair)
    return result, judge_performance(scan.joined, context.record, config), scan


def _retraining(
    context: _Context, result: dict[str, Any], performance: dict[str, Any], consecutive: int, now: float
) -> dict[str, Any]:
    """Whether to start a retraining run now, and why (or why not)."""
    config = context.config
    confirmed = consecutive >= config.consecutive_windows
    wanted = []
    if confirmed and config.retrain_on_drift:
        wanted.append(f"dataset drift confirmed over {consecutive} consecutive windows")
    if performance["degraded"] and config.retrain_on_performance:
        wanted.append(f"performance degraded: {performance['reason']}")
    decision: dict[str, Any] = {"start": False, "reason": "", "execution_name": None, "request": None}
    last = context.state.last_retraining or {}
    cooldown_until = (_epoch(last["at"]) + config.cooldown_hours * 3600) if last.get("at") else None
    decision["cooldown_until"] = _iso(cooldown_until) if cooldown_until else None
    if not wanted:
        if confirmed:
            decision["reason"] = "retrain_on_drift is off"
        elif result["dataset_drift"]:
            decision["reason"] = (
                f"dataset drift in this window, {consecutive} of {config.consecutive_windows} consecutive windows "
                "needed to confirm it"
            )
        elif result["status"] == drift.STATUS_INSUFFICIENT:
            decision["reason"] = "not enough rows yet: the window keeps accumulating"
        else:
            decision["reason"] = "no retraining needed"
        return decision
    why = " and ".join(wanted)
    if cooldown_until is not None and now < cooldown_until:
        decision["reason"] = (
            f"{why}, but a retraining started at {last['at']} (cooldown {config.cooldown_hours} h "
            f"until {_iso(cooldown_until)})"
        )
        return decision
    request = retraining_request(context.record, config, context.check_id, why)
    if request is None:
        decision["reason"] = f"{why}, but v{context.version} has no training request to retrain with"
        return decision
    execution_name = retraining_execution_name(context.model_name, context.check_id)
    return {**decision, "start": True, "reason": why, "execution_name": execution_name, "request": request}


def run_check(
    model_name: str,
    *,
    check_id: str,
    bucket: str,
    registry: ModelRegistry,
    store: MonitoringStore,
    defaults: MonitoringConfig,
    overrides: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run one drift check; return (the full report, the compact result the state machine carries on)."""
    now = time.time() if now is None else now
    created = datetime.fromtimestamp(now, UTC)
    created_at = created.isoformat(timespec="microseconds").replace("+00:00", "Z")
    context = _resolve(
        model_name, check_id, registry=registry, store=store, defaults=defaults, overrides=overrides, now=now
    )
    config, state, version = context.config, context.state, context.version
    result, performance, scan = _measure(context, bucket, now)

    insufficient = result["status"] == drift.STATUS_INSUFFICIENT
    if insufficient:  # neither evidence of drift nor of its absence; the next check sees these rows again
        consecutive, next_window_start = state.consecutive_drifted, context.window_start
    else:
        consecutive = state.consecutive_drifted + 1 if result["dataset_drift"] else 0
        next_window_start = context.window_end
    confirmed = consecutive >= config.consecutive_windows
    retrain = _retraining(context, result, performance, consecutive, now)
    signature = _signature(result, confirmed, performance["degraded"])
    new_signals = sorted(set(signature) - set(state.alert_signature))
    notify = bool(retrain["start"] or new_signals)
    prefix = _report_prefix(bucket, model_name, created)
    report_uri, html_uri = f"{prefix}/report.json", f"{prefix}/report.html"
    decision = f"retraining started: {retrain['reason']}" if retrain["start"] else retrain["reason"]
    if confirmed and not retrain["start"]:
        decision = f"drift confirmed; {decision}"
    report = {
        **result,
        "model_name": model_name,
        "version": version,
        "check_id": check_id,
        "created_at": created_at,
        "window": {
            "start": context.window_start,
            "end": context.window_end,
            "start_iso": _iso(context.window_start),
            "end_iso": _iso(context.window_end),
            "rows": scan.rows,
            "rows_other_versions": scan.other_versions,
            "capture_objects": scan.objects,
        },
        "performance": performance,
        "monitoring": {
            "consecutive_drifted_windows": consecutive,
            "required_windows": config.consecutive_windows,
            "drift_confirmed": confirmed,
            "performance_degraded": performance["degraded"],
            "retrain": {k: v for k, v in retrain.items() if k != "request"},
            "cooldown_hours": config.cooldown_hours,
            "last_retraining": state.last_retraining,
            "notify": notify,
            "new_signals": new_signals,
            "decision": decision,
            "notes": context.notes,
        },
        "monitoring_config": config.to_dict(),
        "report_uri": report_uri,
        "html_uri": html_uri,
    }
    objects.put_json(S3Uri.parse(report_uri), report)
    objects.put_bytes(S3Uri.parse(html_uri), reports.render_html(report).encode(), "text/html; charset=utf-8")

    new_state = replace(
        state,
        window_start=next_window_start,
        consecutive_drifted=consecutive,
        last_check_at=created_at,
        last_check_id=check_id,
        last_status=result["status"],
        last_report_uri=report_uri,
        last_html_uri=html_uri,
        alert_signature=signature,
    )
    if retrain["start"]:  # the reservation: a concurrent check now sees the cooldown
        new_state.last_retraining = {
            "at": created_at,
            "check_id": check_id,
            "execution_name": retrain["execution_name"],
            "reason": retrain["reason"],
            "from_version": version,
            "execution_arn": None,
        }
    store.save_state(model_name, new_state, seen_revision=context.seen_revision)
    summary = {
        "status": result["status"],
        "version": version,
        "rows": scan.rows,
        "dataset_drift": result["dataset_drift"],
        "drift_confirmed": confirmed,
        "drifted_features": result["drifted_features"][:20],
        "drift_share": result["drift_share"],
        "data_quality_violations": len(result["data_quality"]["violations"]),
        "performance": performance["status"],
        "retraining_started": retrain["start"],
        "decision": decision,
        "report_uri": report_uri,
        "html_uri": html_uri,
    }
    store.put_check(model_name, created_at, check_id, summary)
    if confirmed and consecutive == config.consecutive_windows:
        registry.record_event(
            model_name,
            "DriftConfirmed",
            actor=f"drift-check:{check_id}",
            reason=result["reason"],
            after={"version": version, "report_uri": report_uri},
        )
    output = {
        **summary,
        "model_name": model_name,
        "check_id": check_id,
        "created_at": created_at,
        "performance_reason": performance["reason"],
        "notify": notify,
        "notification": notification(report, retrain, new_signals) if notify else None,
        "retrain": {k: retrain[k] for k in ("start", "reason", "execution_name", "request")},
    }
    return report, output


def notification(report: Mapping[str, Any], retrain: Mapping[str, Any], new_signals: list[str]) -> dict[str, str]:
    model, version = report["model_name"], report["version"]
    monitoring = report["monitoring"]
    if retrain.get("start"):
        subject = f"[mlops] {model}: retraining started after drift check"
    elif monitoring["drift_confirmed"]:
        subject = f"[mlops] {model}: drift confirmed"
    elif monitoring["performance_degraded"]:
        subject = f"[mlops] {model}: live performance degraded"
    else:
        subject = f"[mlops] {model}: data quality violations"
    lines = [
        f"Model {model} v{version}, drift check {report['check_id']} at {report['created_at']}.",
        f"Verdict: {report['status']} — {report['reason']}.",
        f"Decision: {monitoring['decision']}.",
        f"New signals: {', '.join(new_signals) or 'none'}.",
        f"Drifted features: {', '.join(report['drifted_features'][:15]) or 'none'}.",
    ]
    for violation in (report.get("data_quality") or {}).get("violations", [])[:10]:
        lines.append(f"Data quality: {violation['detail']}")
    performance = report.get("performance") or {}
    if performance.get("status") not in (None, "no_labels"):
        lines.append(f"Performance: {performance.get('reason')}")
    lines += [f"Report: {report['html_uri']}", f"Data: {report['report_uri']}"]
    return {"subject": subject[:100], "message": "\n".join(lines)}


def record_retraining(
    model_name: str, check_id: str, execution_arn: str, *, store: MonitoringStore, registry: ModelRegistry
) -> dict[str, Any]:
    """After the state machine started the retraining run: remember its ARN on the monitor and the audit trail."""
    for _ in range(5):
        stored = store.get(model_name)
        state = MonitorState.from_document(stored.get("state"))
        last = dict(state.last_retraining or {})
        if last.get("check_id") != check_id:
            break  # a later check already took over; the audit event below still records the run
        last["execution_arn"] = execution_arn
        state.last_retraining = last
        try:
            store.save_state(model_name, state, seen_revision=stored.get("revision"))
            break
        except VersionConflict:
            continue
    registry.record_event(
        model_name,
        "RetrainingStarted",
        actor=f"drift-check:{check_id}",
        reason="drift check started a TrainingPipeline run with the version's training request",
        after={"execution_arn": execution_arn},
    )
    return {"model_name": model_name, "check_id": check_id, "execution_arn": execution_arn}


# ---- the drift function's events ----------------------------------------------------------------------------
class DriftCheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_name: str = Field(pattern=MODEL_NAME_PATTERN)
    config: dict[str, Any] | None = None


class DriftCheckEvent(StepEvent):
    check: DriftCheckRequest


class RecordRetrainingEvent(StepEvent):
    model_name: str = Field(pattern=MODEL_NAME_PATTERN)
    check_id: str = Field(min_length=1)
    retraining_execution_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:")
