"""Monitoring on the local stack: serve traffic through the predict function, fire the drift-check schedule (what
EventBridge Scheduler does on AWS: the tick plans the due models and starts their checks) or start DriftCheck
directly, and follow the executions."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.runs.training import ProgressEvent, error_message, follow
from local.stack import LocalStack
from local.template import ROOT


@dataclass
class DriftCheckResult:
    status: str
    execution_arn: str
    end_state: str | None
    duration_s: float
    output: dict[str, Any] | None = None
    error: str | None = None
    cause: str | None = None
    states: list[str] = field(default_factory=list)

    @property
    def check(self) -> dict[str, Any]:
        return (self.output or {}).get("check") or {}

    @property
    def retraining_execution_arn(self) -> str | None:
        return ((self.output or {}).get("retraining") or {}).get("execution_arn")


def _result(stack: LocalStack, execution_arn: str, started: float, **kwargs: Any) -> DriftCheckResult:
    description, events = follow(stack, execution_arn, **kwargs)
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
    error, cause = description.get("error"), description.get("cause")
    if description["status"] == "FAILED" and not error:
        failed = next((e for e in reversed(events) if e["type"] == "ExecutionFailed"), None)
        details = (failed or {}).get("executionFailedEventDetails", {})
        error, cause = details.get("error"), details.get("cause")
    return DriftCheckResult(
        status=description["status"],
        execution_arn=execution_arn,
        end_state=entered[-1] if entered else None,
        duration_s=time.time() - started,
        output=json.loads(description["output"]) if description.get("output") else None,
        error=error,
        cause=error_message(cause),
        states=entered,
    )


def run_drift_check(
    stack: LocalStack,
    model_name: str,
    *,
    config: dict[str, Any] | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    timeout_s: float = 600.0,
) -> DriftCheckResult:
    """Start the real DriftCheck state machine for a model (what its schedule does) and wait for its end."""
    document: dict[str, Any] = {"model_name": model_name}
    if config:
        document["config"] = config
    started = time.time()
    execution_arn = stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.drift_check_arn, name=f"drift-{uuid.uuid4().hex[:12]}", input=json.dumps(document)
    )["executionArn"]
    return _result(stack, execution_arn, started, on_progress=on_progress, timeout_s=timeout_s)


SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"  # a context attribute the Scheduler fills into a target's input
TICK_SCHEDULE = "DriftCheckTickSchedule"  # the template's one drift-check schedule


@dataclass
class TickResult:
    """One tick of the drift-check schedule: the ScheduledDriftChecks execution and the checks it started."""

    status: str
    execution_arn: str
    plan: dict[str, Any]
    checks: list[DriftCheckResult]
    error: str | None = None
    cause: str | None = None

    def check_of(self, model_name: str) -> DriftCheckResult | None:
        """The check this tick started for the model (None: not started, e.g. not due or the tick failed)."""
        found = [c for c in self.checks if (c.output or {}).get("model_name") == model_name]
        return found[0] if found else None


def day_boundary(now: float | None = None) -> float:
    """The latest midnight UTC: a tick scheduled then is due for every model on a daily (or finer) rate."""
    now = time.time() if now is None else now
    return now - now % 86_400


def fire_schedule(
    stack: LocalStack, schedule_name: str, *, scheduled_time: float | None = None, timeout_s: float = 600.0
) -> TickResult:
    """Do what EventBridge Scheduler does when a schedule is due: start its target with its input (the scheduled
    time filled in), then follow that execution and every DriftCheck execution it started."""
    from mlops.monitoring.partitions import iso_seconds  # noqa: PLC0415

    target = stack.client("scheduler").get_schedule(Name=schedule_name)["Target"]
    due = iso_seconds(time.time() if scheduled_time is None else scheduled_time)
    document = target.get("Input", "{}").replace(SCHEDULED_TIME, due)
    execution_arn = stack.client("stepfunctions").start_execution(
        stateMachineArn=target["Arn"], name=f"tick-{uuid.uuid4().hex[:12]}", input=document
    )["executionArn"]
    description, _ = follow(stack, execution_arn, timeout_s=timeout_s)
    output = json.loads(description.get("output") or "{}")
    checks = []
    for started in output.get("started") or []:
        if started.get("execution_arn"):
            checks.append(_result(stack, started["execution_arn"], time.time(), timeout_s=timeout_s))
    return TickResult(
        status=description["status"],
        execution_arn=execution_arn,
        plan=output.get("plan") or {},
        checks=checks,
        error=description.get("error"),
        cause=description.get("cause"),
    )


def fire_drift_schedule(stack: LocalStack, *, scheduled_time: float | None = None, **kwargs: Any) -> TickResult:
    """Fire the template's drift-check schedule (by default as at the latest midnight UTC, when daily rates are due)."""
    at = day_boundary() if scheduled_time is None else scheduled_time
    return fire_schedule(stack, stack.refs[TICK_SCHEDULE], scheduled_time=at, **kwargs)


class ScheduleTimer:
    """What EventBridge Scheduler does for ``local up --schedule``: a daemon thread that fires the drift-check schedule
    at its own rate (the stack's ``DriftCheckTickRate``), each tick as at its boundary, so the plan checks the models
    whose rate came round in that interval (a tick delivered twice starts nothing twice). ``on_tick`` hears each
    tick's result (or the exception that stopped it: the next tick still fires)."""

    def __init__(self, stack: LocalStack, on_tick: Callable[[TickResult | Exception], None]) -> None:
        from mlops.monitoring.config import rate_seconds  # noqa: PLC0415

        self.stack = stack
        self.schedule_name = stack.refs[TICK_SCHEDULE]
        self.rate = stack.client("scheduler").get_schedule(Name=self.schedule_name)["ScheduleExpression"]
        self.interval_s = rate_seconds(self.rate, field_name="DriftCheckTickRate")
        self.on_tick = on_tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drift-schedule", daemon=True)

    def boundary(self, now: float | None = None) -> float:
        """The latest tick boundary at or before ``now``."""
        now = time.time() if now is None else now
        return now - now % self.interval_s

    def next_tick_in_s(self, now: float | None = None) -> float:
        now = time.time() if now is None else now
        return self.boundary(now) + self.interval_s - now

    def tick(self, now: float | None = None) -> TickResult:
        return fire_schedule(self.stack, self.schedule_name, scheduled_time=self.boundary(now))

    def start(self) -> ScheduleTimer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.next_tick_in_s()):
            try:
                self.on_tick(self.tick())
            except Exception as exc:  # noqa: BLE001 - a failed tick is reported; the schedule goes on
                self.on_tick(exc)


def serve(stack: LocalStack, model_name: str, rows: list[dict[str, Any]], batch: int = 100) -> list[dict[str, Any]]:
    """Send rows through the predict function as API Gateway requests (so capture reaches S3 as in AWS)."""
    predictions: list[dict[str, Any]] = []
    function = stack.function_names["PredictFunction"]
    for start in range(0, len(rows), batch):
        event = {
            "resource": "/models/{name}/predict",
            "path": f"/models/{model_name}/predict",
            "httpMethod": "POST",
            "pathParameters": {"name": model_name},
            "requestContext": {"requestId": str(uuid.uuid4())},
            "body": json.dumps({"instances": rows[start : start + batch]}),
            "isBase64Encoded": False,
        }
        response = stack.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event).encode())
        payload = json.loads(response["Payload"].read())
        if payload.get("statusCode") != 200:
            raise RuntimeError(f"predict answered {payload.get('statusCode')}: {payload.get('body')}")
        predictions.extend(json.loads(payload["body"])["predictions"])
    return predictions


# ---- the monitoring part of `make demo` ----------------------------------------------------------------------------
DEMO_SHIFTED_FEATURES = 12  # of the 30: enough to pass the default drift share (30%)
DEMO_SHIFT = 1.6  # those features' values are multiplied by this (a recalibrated instrument, say)
DEMO_BATCH_ROWS = 300
DEMO_FEEDBACK = {"window_hours": 1, "weight": 2, "holdout_share": 0.3}  # the retraining's labelled traffic


def _send_feedback(stack: LocalStack, model_name: str, labels: list[dict[str, Any]]) -> int:
    """POST /models/{name}/feedback through the local gateway's routing (the admin API function)."""
    from local.gateway import LocalGateway  # noqa: PLC0415 - avoids an import cycle with the CLI module

    gateway = LocalGateway(stack, port=0)
    try:
        status, _, _ = gateway.dispatch(
            "POST",
            f"/models/{model_name}/feedback",
            {"content-type": "application/json"},
            json.dumps({"labels": labels}).encode(),
        )
    finally:
        gateway.server.server_close()
    return status


def _print_check(title: str, result: DriftCheckResult, out: Any) -> None:
    check = result.check
    if result.status != "SUCCEEDED":
        print(f"  {title:<11} ✗ {result.end_state}: {result.error} {result.cause or ''}", file=out)
        return
    verdict = {"ok": "no drift", "drift": "DRIFT", "insufficient_data": "insufficient data"}[check["status"]]
    if check["drift_confirmed"]:
        verdict = "DRIFT CONFIRMED"
    drifted = check["drifted_features"]
    print(
        f"  {title:<11} {verdict} (v{check['version']}, {check.get('rows', 0)} rows): {len(drifted)} feature(s) "
        f"drifted, performance {check['performance']} → {result.end_state}",
        file=out,
    )
    if drifted:
        print(f"              {', '.join(drifted[:6])}{', ...' if len(drifted) > 6 else ''}", file=out)
    print(f"              decision: {check['decision']}", file=out)
    print(f"              report {check['html_uri']}", file=out)


def _scheduled_checks(stack: LocalStack, model_name: str, out: Any) -> tuple[TickResult, DriftCheckResult | None]:
    """Fire the one schedule; print the tick and the other models' checks; return the tick and the model's check."""
    tick = fire_drift_schedule(stack)
    if tick.status != "SUCCEEDED":
        print(f"  tick        ✗ ScheduledDriftChecks {tick.status}: {tick.error} {tick.cause or ''}", file=out)
        return tick, None
    print(
        f"  tick        the schedule fired (as at {tick.plan.get('tick_at')}): {tick.plan.get('due_count')} of "
        f"{tick.plan.get('models')} deployed models due, one DriftCheck each",
        file=out,
    )
    for check in tick.checks:
        if (check.output or {}).get("model_name") != model_name:
            _print_check(str((check.output or {}).get("model_name")), check, out)
    first = tick.check_of(model_name)
    if first is None:
        print(f"  check 1     ✗ the tick started no check of {model_name}", file=out)
    return tick, first


def _follow_retraining(stack: LocalStack, execution_arn: str, out: Any, on_progress: Any) -> bool:
    print(f"  retraining  {execution_arn.rsplit(':', 1)[-1]} (TrainingPipeline, started by DriftCheck)", file=out)
    description, _ = follow(stack, execution_arn, on_progress=on_progress)
    output = json.loads(description.get("output") or "{}")
    gate = (output.get("evaluation") or {}).get("gate") or {}
    registration = output.get("registration") or {}
    added = (output.get("dataset") or {}).get("feedback")
    if added:
        print(
            f"  data        the training data + {added['labelled_rows']} captured rows joined with their labels "
            f"({added['capture_objects']} capture object(s), {added['duplicate_captures_dropped']} duplicate(s) "
            f"dropped): {added['train_rows']} to training ×{added['weight']}, the newest {added['test_rows']} to the "
            f"holdout both models are scored on → {added['dataset_uri']}",
            file=out,
        )
    print(
        f"  gate        {str(gate.get('decision', '-')).upper()}: v{registration.get('version')} "
        f"{registration.get('status')} ({'; '.join(gate.get('reasons', []))})",
        file=out,
    )
    return description["status"] == "SUCCEEDED"


def _labelled_rows(table: Any) -> list[tuple[dict[str, float], str]]:
    """The bundled data set's rows as (features, label); its columns are all numbers."""
    from mlops.data import reader  # noqa: PLC0415

    names = [c for c in table.names if c != "target"]
    values = {n: table.column(n).values.tolist() for n in names}
    labels = [reader.number_text(v) for v in table.column("target").values.tolist()]
    return [({n: values[n][i] for n in names}, label) for i, label in enumerate(labels)]


def demo_monitoring(stack: LocalStack, model_name: str, dataset_csv: bytes, out: Any, on_progress: Any) -> bool:
    """Serve normal traffic → check (no drift); serve shifted traffic → checks (drift confirmed, report, retraining
    started and gated). Ground truth for the served rows goes through the feedback route."""
    import numpy as np  # noqa: PLC0415

    from mlops.data import dataset  # noqa: PLC0415
    from mlops.monitoring.store import MonitoringStore  # noqa: PLC0415

    table = dataset.read_table(dataset_csv)
    rows = _labelled_rows(table)
    names = [c for c in table.names if c != "target"]
    shifted = names[:DEMO_SHIFTED_FEATURES]
    rng = np.random.default_rng(7)

    def traffic(shift: bool) -> list[tuple[dict[str, Any], str]]:
        picked = [rows[i] for i in rng.integers(0, len(rows), DEMO_BATCH_ROWS)]
        if not shift:
            return picked
        return [({**features, **{n: features[n] * DEMO_SHIFT for n in shifted}}, label) for features, label in picked]

    def serve_traffic(batch: list[tuple[dict[str, Any], str]], *, feedback: bool) -> None:
        served = serve(stack, model_name, [features for features, _ in batch])
        if not feedback:
            print(f"              {len(served)} predictions served and captured (labels not known yet)", file=out)
            return
        labels = [
            {"inference_id": p["inference_id"], "label": label} for p, (_, label) in zip(served, batch, strict=True)
        ]
        status = _send_feedback(stack, model_name, labels)
        print(
            f"              {len(served)} predictions served and captured; their {len(labels)} actual labels "
            f"posted to /models/{model_name}/feedback (HTTP {status})",
            file=out,
        )

    print("Monitoring: one schedule checks every deployed model; DriftCheck on each", file=out)
    MonitoringStore(stack.monitor_table).set_config(
        model_name,
        {
            "min_labelled_rows": 100,
            "retrain_on_performance": False,  # this story retrains on confirmed drift
            "retrain_on_estimated_performance": False,  # the estimate is reported, not acted on, here
            "retraining_feedback": DEMO_FEEDBACK,
        },
    )
    print(
        "  settings    consecutive windows 2, cooldown 24 h; a retraining adds the labelled traffic "
        f"(weight {DEMO_FEEDBACK['weight']}, newest {DEMO_FEEDBACK['holdout_share']:.0%} into the holdout)\n"
        f"  traffic 1   {DEMO_BATCH_ROWS} requests like the training data",
        file=out,
    )
    serve_traffic(traffic(shift=False), feedback=True)
    tick, first = _scheduled_checks(stack, model_name, out)
    if first is None:
        return False
    _print_check("check 1", first, out)
    results = [first]
    for number in (2, 3):
        print(
            f"  traffic {number}   {DEMO_BATCH_ROWS} requests with {DEMO_SHIFTED_FEATURES} features ×{DEMO_SHIFT} "
            f"({', '.join(shifted[:3])}, ...)",
            file=out,
        )
        serve_traffic(traffic(shift=True), feedback=True)
        result = run_drift_check(stack, model_name)
        _print_check(f"check {number}", result, out)
        results.append(result)
    confirmed = results[-1].check
    if confirmed.get("html_uri"):
        local_copy = ROOT / "out" / "drift-report.html"
        local_copy.parent.mkdir(exist_ok=True)
        bucket, _, key = confirmed["html_uri"].removeprefix("s3://").partition("/")
        local_copy.write_bytes(stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
        print(f"  report      check 3's report, for a browser: {local_copy.relative_to(ROOT)}", file=out)
    retraining = results[-1].retraining_execution_arn
    ok = all(r.status == "SUCCEEDED" for r in results)
    ok = ok and tick.status == "SUCCEEDED" and all(c.status == "SUCCEEDED" for c in tick.checks)
    ok = ok and retraining is not None and _follow_retraining(stack, retraining, out, on_progress)
    print(f"  traffic 4   {DEMO_BATCH_ROWS} more shifted requests, now with their labels", file=out)
    serve_traffic(traffic(shift=True), feedback=True)
    after = run_drift_check(stack, model_name)
    _print_check("check 4", after, out)
    if after.check.get("version") != confirmed.get("version"):
        print(
            f"              v{after.check.get('version')} now serves: its window and counters started afresh at its "
            "deployment, against its own baseline (the original rows plus the labelled traffic)",
            file=out,
        )
    return ok and after.status == "SUCCEEDED"
