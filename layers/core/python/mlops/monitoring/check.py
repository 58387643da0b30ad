"""Scheduled drift checks of a deployed model: capture since the last check against the production version's
baseline, ground truth joined to predictions, a report in S3, and the decision to alert and to retrain.

One check (``run_check``) is one step of the DriftCheck state machine:

1. resolve ``production`` → version → baseline (``NothingToMonitor`` / ``BaselineUnavailable`` otherwise);
2. read the capture of that version since the last check (``capture/<model>/dt=.../``), chunk by chunk, into
   fixed-size drift counts; join the feedback labels (``feedback/<model>/dt=.../``) received within the
   performance window to the captured predictions;
3. evaluate drift (``mlops.monitoring.decision``), live performance against the registered holdout metrics, and
   the label-free estimate of the window's performance (``mlops.monitoring.estimated``);
4. confirm drift after ``consecutive_windows`` drifted windows in a row; decide whether to retrain (drift
   confirmed, performance or estimated performance degraded, outside the cooldown, with the version's training
   request) and whether to notify (only when something new happened, so a persisting condition does not page every
   hour);
5. write ``monitoring/<model>/<ts>/report.json`` and ``report.html``, then commit the monitor's state with a
   conditional write: two concurrent checks never both count a window or both start a retraining.

The state lives in the registry table beside the model (``sk = MONITOR``, and ``CHECK#<ts>#<id>`` summaries,
``mlops.monitoring.store``). Reading the capture is ``capture``'s job, the ground truth ``feedback``'s, live metrics
``performance``'s; this module orchestrates one check and owns its decisions.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from mlops.errors import ArtifactMissing, BaselineUnavailable, ModelNotFound, NothingToMonitor, VersionConflict
from mlops.monitoring import reports
from mlops.monitoring.capture import PREDICTION, CaptureBatcher, CaptureScan, model_features, scan_capture
from mlops.monitoring.config import MonitoringConfig
from mlops.monitoring.decision import STATUS_INSUFFICIENT, evaluate
from mlops.monitoring.estimated import judge_estimated, load_estimator
from mlops.monitoring.estimation import EstimateFeeder
from mlops.monitoring.feedback import read_labels
from mlops.monitoring.importance import drift_by_importance
from mlops.monitoring.partitions import epoch_seconds, iso_seconds
from mlops.monitoring.performance import judge_performance
from mlops.monitoring.reference import Reference
from mlops.monitoring.registry_view import PRODUCTION, ModelRegistry
from mlops.monitoring.store import CheckSummary, MonitoringStore, MonitorState, RetrainingRecord
from mlops.monitoring.window import Window
from mlops.records.request import TrainingRequest
from mlops.records.schema import Schema
from mlops.storage import layout, objects
from mlops.storage.objects import S3Uri

UNRECORDED_START_GRACE_S = 15 * 60  # longer than a DriftCheck execution's StartRetraining + RecordRetraining
MAX_FEATURE_METRICS = 100  # per-feature CloudWatch metrics per check (each metric costs money)


# ---- the check ------------------------------------------------------------------------------------------------
def retraining_request(record: Mapping[str, Any], config: MonitoringConfig, check_id: str, why: str) -> dict | None:
    """The version's own training request, re-validated, as a retraining run's input (None if it has none)."""
    spec = record.get("training_request")
    if not isinstance(spec, dict):
        return None
    request = {k: v for k, v in spec.items() if k in TrainingRequest.model_fields}
    # the engine the user asked for, not the one Prepare settled by size: a retraining on more data may need another
    request["compute"] = spec.get("requested_compute")
    # a training job's instance and runtime as the stack settles them when the retraining runs (the settled ones may
    # lie outside an allow-list changed since)
    request.pop("sagemaker", None)
    if config.retraining_dataset_uri:
        request["dataset_uri"] = config.retraining_dataset_uri
    if config.retraining_feedback is not None:  # the data plus the captured rows labelled since (feedback_rows)
        request["feedback"] = dict(config.retraining_feedback)
    request["requested_by"] = f"drift-check:{check_id}"
    note = f"Retrained by drift check {check_id}: {why}"
    request["description"] = (f"{request.get('description', '')}\n{note}".strip())[:2000]
    return TrainingRequest.model_validate(request).model_dump(mode="json", exclude_none=True)


def retraining_execution_name(model_name: str, check_id: str) -> str:
    """Deterministic per check: a retried StartExecution cannot start a second run."""
    digest = hashlib.sha256(f"{model_name}\n{check_id}".encode()).hexdigest()[:16]
    return f"retrain-{re.sub(r'[^A-Za-z0-9_-]', '-', model_name)[:48]}-{digest}"


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


def _signature(report: Mapping[str, Any], confirmed: bool, degraded: bool, estimated: bool) -> list[str]:
    signals = ["drift_confirmed"] * confirmed + ["performance_degraded"] * degraded
    signals += ["estimated_performance_degraded"] * estimated
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
    config = MonitoringConfig.merged(MonitoringConfig.merged(defaults, stored.config), overrides)
    state = stored.state or MonitorState()
    notes = []
    if state.version != version:
        if state.version is not None:
            notes.append(f"production moved from v{state.version} to v{version}: the window and counters restart")
        deployed_at = alias.updated_at
        state = replace(
            state,
            version=version,
            window_start=epoch_seconds(deployed_at) if deployed_at else None,
            consecutive_drifted=0,
            alert_signature=(),
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
        stored.revision,
        notes,
        window_start,
        window_end,
    )


def _measure(context: _Context, bucket: str, now: float) -> tuple[dict[str, Any], dict[str, Any], dict, CaptureScan]:
    """Read the window (and the labelled predictions) and evaluate drift, live and estimated performance."""
    config = context.config
    reference = Reference.from_baseline(context.baseline["features"]["features"])
    window = Window(reference)
    prediction_pair = None
    prediction_baseline = context.baseline.get("predictions")
    if isinstance(prediction_baseline, dict) and prediction_baseline.get("kind"):
        prediction_reference = Reference.from_baseline({PREDICTION: prediction_baseline})
        prediction_pair = (prediction_reference, Window(prediction_reference))
    # the baseline holds the schema it was computed with (sha256-verified with it); old records also hold it inline
    schema = Schema.from_dict(context.baseline.get("schema") or context.record["schema"])
    estimator, unavailable = load_estimator(context.record)
    feeder = EstimateFeeder(estimator) if estimator is not None else None
    batcher = CaptureBatcher(
        window, prediction_pair[1] if prediction_pair else None, config.drift.chunk_rows, model_features(schema), feeder
    )
    labels_start = now - config.performance_window_hours * 3600
    labels = read_labels(bucket, context.model_name, labels_start, now)
    scan = scan_capture(
        bucket,
        context.model_name,
        context.version,
        window_start=context.window_start,
        window_end=context.window_end,
        batcher=batcher,
        labels=labels,
        labels_start=labels_start,
    )
    result = evaluate(reference, window, config.drift, prediction=prediction_pair)
    performance = judge_performance(scan.joined, context.record, config)
    return result, performance, judge_estimated(feeder, estimator, unavailable, performance, config), scan


def _retraining(
    context: _Context, result: dict, performance: dict, estimated: dict, *, consecutive: int, now: float
) -> dict[str, Any]:
    """Whether to start a retraining run now, and why (or why not)."""
    config = context.config
    confirmed = consecutive >= config.consecutive_windows
    wanted = []
    if confirmed and config.retrain_on_drift:
        wanted.append(f"dataset drift confirmed over {consecutive} consecutive windows")
    if performance["degraded"] and config.retrain_on_performance:
        wanted.append(f"performance degraded: {performance['reason']}")
    if estimated["degraded"] and config.retrain_on_estimated_performance:
        wanted.append(f"estimated performance degraded: {estimated['reason']}")
    decision: dict[str, Any] = {"start": False, "reason": "", "execution_name": None, "request": None}
    last = context.state.last_retraining
    # A reservation without an execution ARN is a start not yet recorded. Within the grace it holds the cooldown (the
    # check that made it is between StartRetraining and RecordRetraining: a concurrent check must not start a second
    # run); after it, that check failed before recording a start, and holding the cooldown would block retraining for
    # hours with nothing running. The cost: one possible extra run if only the recording failed.
    if last is not None and not last.execution_arn and now - epoch_seconds(last.at) > UNRECORDED_START_GRACE_S:
        last = None
    cooldown_until = (epoch_seconds(last.at) + config.cooldown_hours * 3600) if last else None
    decision["cooldown_until"] = iso_seconds(cooldown_until) if cooldown_until else None
    if not wanted:
        if confirmed:
            decision["reason"] = "retrain_on_drift is off"
        elif result["dataset_drift"]:
            decision["reason"] = (
                f"dataset drift in this window, {consecutive} of {config.consecutive_windows} consecutive windows "
                "needed to confirm it"
            )
        elif result["status"] == STATUS_INSUFFICIENT:
            decision["reason"] = "not enough rows yet: the window keeps accumulating"
        else:
            decision["reason"] = "no retraining needed"
        return decision
    why = " and ".join(wanted)
    if cooldown_until is not None and now < cooldown_until:
        decision["reason"] = (
            f"{why}, but a retraining started at {last.at} (cooldown {config.cooldown_hours} h "
            f"until {iso_seconds(cooldown_until)})"
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
    result, performance, estimated, scan = _measure(context, bucket, now)

    insufficient = result["status"] == STATUS_INSUFFICIENT
    if insufficient:  # neither evidence of drift nor of its absence; the next check sees these rows again
        consecutive, next_window_start = state.consecutive_drifted, context.window_start
    else:
        consecutive = state.consecutive_drifted + 1 if result["dataset_drift"] else 0
        next_window_start = context.window_end
    confirmed = consecutive >= config.consecutive_windows
    retrain = _retraining(context, result, performance, estimated, consecutive=consecutive, now=now)
    signature = _signature(result, confirmed, performance["degraded"], estimated["degraded"])
    new_signals = sorted(set(signature) - set(state.alert_signature))
    notify = bool(retrain["start"] or new_signals)
    report_object, html_object = (
        layout.report(bucket, model_name, created),
        layout.report(bucket, model_name, created, "html"),
    )
    report_uri, html_uri = str(report_object), str(html_object)
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
            "start_iso": iso_seconds(context.window_start),
            "end_iso": iso_seconds(context.window_end),
            "rows": scan.rows,
            "rows_other_versions": scan.other_versions,
            "capture_objects": scan.objects,
        },
        "performance": performance,
        "estimated_performance": estimated,
        "drift_by_importance": drift_by_importance(result["features"], context.record.get("feature_importance")),
        "monitoring": {
            "consecutive_drifted_windows": consecutive,
            "required_windows": config.consecutive_windows,
            "drift_confirmed": confirmed,
            "performance_degraded": performance["degraded"],
            "estimated_performance_degraded": estimated["degraded"],
            "retrain": {k: v for k, v in retrain.items() if k != "request"},
            "cooldown_hours": config.cooldown_hours,
            "last_retraining": state.last_retraining.to_document() if state.last_retraining else None,
            "notify": notify,
            "new_signals": new_signals,
            "decision": decision,
            "notes": context.notes,
        },
        "monitoring_config": config.to_dict(),
        "report_uri": report_uri,
        "html_uri": html_uri,
    }
    objects.put_json(report_object, report)
    objects.put_bytes(html_object, reports.render_html(report).encode(), "text/html; charset=utf-8")

    new_state = replace(
        state,
        window_start=next_window_start,
        consecutive_drifted=consecutive,
        last_check_at=created_at,
        last_check_id=check_id,
        last_status=result["status"],
        last_report_uri=report_uri,
        last_html_uri=html_uri,
        alert_signature=tuple(signature),
    )
    if retrain["start"]:  # the reservation: a concurrent check now sees the cooldown
        new_state = replace(
            new_state,
            last_retraining=RetrainingRecord(
                at=created_at,
                check_id=check_id,
                execution_name=retrain["execution_name"],
                reason=retrain["reason"],
                from_version=version,
            ),
        )
    store.save_state(model_name, new_state, seen_revision=context.seen_revision)
    summary = CheckSummary(
        model_name=model_name,
        check_id=check_id,
        created_at=created_at,
        status=result["status"],
        version=version,
        rows=scan.rows,
        dataset_drift=result["dataset_drift"],
        drift_confirmed=confirmed,
        drifted_features=tuple(result["drifted_features"][:20]),
        drift_share=result["drift_share"],
        data_quality_violations=len(result["data_quality"]["violations"]),
        performance=performance["status"],
        estimated_performance=estimated["status"],
        retraining_started=retrain["start"],
        decision=decision,
        report_uri=report_uri,
        html_uri=html_uri,
    )
    store.put_check(summary)
    if confirmed and consecutive == config.consecutive_windows:
        registry.record_event(
            model_name,
            "DriftConfirmed",
            actor=f"drift-check:{check_id}",
            reason=result["reason"],
            after={"version": version, "report_uri": report_uri},
        )
    output = {
        **summary.to_document(),
        "performance_reason": performance["reason"],
        "notify": notify,
        "notification": reports.notification(report, retrain, new_signals) if notify else None,
        "retrain": {k: retrain[k] for k in ("start", "reason", "execution_name", "request")},
    }
    return report, output


def record_retraining(
    model_name: str, check_id: str, execution_arn: str, *, store: MonitoringStore, registry: ModelRegistry
) -> dict[str, Any]:
    """After the state machine started the retraining run: remember its ARN on the monitor and the audit trail."""
    for _ in range(5):
        stored = store.get(model_name)
        state = stored.state or MonitorState()
        last = state.last_retraining
        if last is None or last.check_id != check_id:
            break  # a later check already took over; the audit event below still records the run
        state = replace(state, last_retraining=replace(last, execution_arn=execution_arn))
        try:
            store.save_state(model_name, state, seen_revision=stored.revision)
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
