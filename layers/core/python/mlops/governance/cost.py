"""What a training run used, read from its Step Functions execution history, and what it, 1,000 predictions and a
month of drift checks cost at the price table's list prices.

The history gives every state's timestamps: a Lambda task's duration is its TaskStarted → TaskSucceeded/Failed/
TimedOut (each retry counted), its memory and architecture are the function's configuration, every ``*StateEntered``
is a billed state transition, a Distributed Map's child executions are read through ``ListExecutions(mapRunArn)``
and a SageMaker task's output is DescribeTrainingJob (instance type, count, billable seconds). Where a child
execution's history cannot be read (the local stack's interpreter does not list them), the child runs are counted
from ``DescribeMapRun`` and each Train's duration is the fit time the trial recorded, and the usage says so.
The same code runs on the local stack, so local runs report the same figures from their own measurements.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from importlib import resources
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlops.records.cost import (
    SECONDS_PER_MONTH,
    CostLine,
    PricedUsage,
    PriceTable,
    RunUsage,
    StepUsage,
    TrainingJobUsage,
)
from mlops.storage import objects
from mlops.storage.objects import S3Uri

PRICE_TABLE_FILE = "prices.json"
TASK_ENDS = {"TaskSucceeded", "TaskFailed", "TaskTimedOut", "LambdaFunctionSucceeded", "LambdaFunctionFailed"}
FALLBACK_STATE = "TrainTrials (child runs, fit times)"
FunctionConfig = tuple[int, str]  # (MemorySize MB, architecture)


def load_prices(uri: str | None = None) -> PriceTable:
    """The price table: the one shipped with the code, or the JSON document at ``uri`` (a stack's PriceTableUri)."""
    if uri:
        document = objects.get_json(S3Uri.parse(uri))
        return PriceTable.model_validate({"source": uri, **document})
    text = resources.files("mlops.governance").joinpath(PRICE_TABLE_FILE).read_text(encoding="utf-8")
    return PriceTable.model_validate_json(text)


# ---- usage from a history ---------------------------------------------------------------------------------------
def _details(event: dict[str, Any]) -> dict[str, Any]:
    return next((value for key, value in event.items() if key.endswith("EventDetails")), {})


def _function_of(details: dict[str, Any]) -> str | None:
    if "resource" in details and details.get("resourceType") is None:  # LambdaFunctionScheduled (a plain ARN)
        return str(details["resource"])
    if details.get("resourceType") == "lambda":
        return str(json.loads(details.get("parameters") or "{}").get("FunctionName") or "") or None
    return None


def _training_job(details: dict[str, Any]) -> TrainingJobUsage | None:
    try:
        job = json.loads(details.get("output") or "{}")
    except ValueError:
        return None
    resource = job.get("ResourceConfig") or {}
    if not resource.get("InstanceType"):
        return None
    return TrainingJobUsage(
        name=str(job.get("TrainingJobName", "")),
        instance_type=resource["InstanceType"],
        instance_count=int(resource.get("InstanceCount", 1)),
        billable_s=float(job.get("BillableTimeInSeconds") or job.get("TrainingTimeInSeconds") or 0),
    )


def _timestamp(event: dict[str, Any]) -> datetime:
    at = event["timestamp"]
    return at if isinstance(at, datetime) else datetime.fromisoformat(str(at))


def usage_from_history(
    events: Sequence[dict[str, Any]],
    functions: Callable[[str], FunctionConfig],
    *,
    now: datetime | None = None,
    map_child: bool = False,
) -> tuple[list[StepUsage], int, list[TrainingJobUsage], list[str]]:
    """Lambda steps (a task still running is measured up to ``now``), state transitions, training jobs and map runs."""
    current_state, transitions = "", 0
    scheduled: dict[int, tuple[str, str]] = {}  # TaskScheduled id -> (state, function)
    started: dict[int, tuple[str, str, datetime]] = {}  # TaskStarted id -> (state, function, at)
    durations: dict[tuple[str, str], list[float]] = {}
    jobs: list[TrainingJobUsage] = []
    map_runs: list[str] = []
    for event in events:
        kind, details = event["type"], _details(event)
        if kind.endswith("StateEntered"):
            transitions += 1
            current_state = str(details.get("name", ""))
        if kind in ("TaskScheduled", "LambdaFunctionScheduled") and (function := _function_of(details)):
            scheduled[event["id"]] = (current_state, function)
        elif kind in ("TaskStarted", "LambdaFunctionStarted") and event.get("previousEventId") in scheduled:
            state, function = scheduled[event["previousEventId"]]
            started[event["id"]] = (state, function, _timestamp(event))
        elif kind in TASK_ENDS and event.get("previousEventId") in started:
            state, function, at = started.pop(event["previousEventId"])
            durations.setdefault((state, function), []).append((_timestamp(event) - at).total_seconds())
        if kind == "TaskSucceeded" and details.get("resourceType") == "sagemaker" and (job := _training_job(details)):
            jobs.append(job)
        if kind == "MapRunStarted":
            map_runs.append(str(details.get("mapRunArn", "")))
    if now is not None:  # the calling step itself, measured so far
        for state, function, at in started.values():
            durations.setdefault((state, function), []).append(max(0.0, (now - at).total_seconds()))
    steps = []
    for (state, function), seconds in durations.items():
        memory_mb, architecture = functions(function)
        steps.append(
            StepUsage(
                state=state,
                function=function.rsplit(":", 1)[-1],
                memory_mb=memory_mb,
                architecture=architecture,  # type: ignore[arg-type]
                duration_s=sum(seconds),
                invocations=len(seconds),
                map_child=map_child,
            )
        )
    return steps, transitions, jobs, map_runs


def function_configs(lambda_client: Any) -> Callable[[str], FunctionConfig]:
    """A memoised lookup of a function's configured memory and architecture (GetFunctionConfiguration)."""
    known: dict[str, FunctionConfig] = {}

    def lookup(function: str) -> FunctionConfig:
        if function not in known:
            configuration = lambda_client.get_function_configuration(FunctionName=function)
            known[function] = (int(configuration["MemorySize"]), (configuration.get("Architectures") or ["x86_64"])[0])
        return known[function]

    return lookup


def history(sfn_client: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every event of an execution, oldest first (GetExecutionHistory, paginated)."""
    events: list[dict[str, Any]] = []
    for page in sfn_client.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return events


def read_run_usage(
    execution_arn: str,
    *,
    scope: str,
    sfn_client: Any,
    lambda_client: Any,
    now: datetime,
    trial_fit_s: Iterable[float] = (),
    train_function: str | None = None,
) -> RunUsage:
    """The run's usage so far, from its history and its Distributed Map children's (see the module's docstring)."""
    lookup = function_configs(lambda_client)
    events = history(sfn_client, execution_arn)
    steps, transitions, jobs, map_runs = usage_from_history(events, lookup, now=now)
    notes: list[str] = []
    children = 0
    for map_run in map_runs:
        run_children, child_steps, child_transitions, child_jobs, note = _map_run_usage(
            sfn_client, map_run, lookup, trial_fit_s=trial_fit_s, train_function=train_function
        )
        if child_steps and child_steps[0].state == FALLBACK_STATE:
            trial_fit_s = ()  # every rung's trials are in the leaderboard: count them once
        children += run_children
        steps += child_steps
        transitions += child_transitions
        jobs += child_jobs
        notes += [note] if note else []
    started_at = _timestamp(events[0]) if events else now
    return RunUsage(
        execution_arn=execution_arn,
        scope=scope,
        duration_s=max(0.0, (now - started_at).total_seconds()),
        steps=steps,
        state_transitions=transitions,
        map_child_runs=children,
        training_jobs=jobs,
        notes=notes,
    )


def _map_run_usage(
    sfn_client: Any,
    map_run_arn: str,
    lookup: Callable[[str], FunctionConfig],
    *,
    trial_fit_s: Iterable[float],
    train_function: str | None,
) -> tuple[int, list[StepUsage], int, list[TrainingJobUsage], str]:
    counts = sfn_client.describe_map_run(mapRunArn=map_run_arn).get("itemCounts", {})
    total = int(counts.get("total", 0))
    try:
        children = sfn_client.list_executions(mapRunArn=map_run_arn)["executions"]
        steps: list[StepUsage] = []
        transitions, jobs = 0, []
        for child in children:
            child_steps, child_transitions, child_jobs, _ = usage_from_history(
                history(sfn_client, child["executionArn"]), lookup, map_child=True
            )
            steps += child_steps
            transitions += child_transitions
            jobs += child_jobs
        return max(total, len(children)), steps, transitions, jobs, ""
    except (ClientError, BotoCoreError, TypeError, KeyError):
        fits = [seconds for seconds in trial_fit_s if seconds is not None]
        if train_function is None or not fits:
            return total, [], 0, [], "the Distributed Map's child executions could not be read: not counted"
        memory_mb, architecture = lookup(train_function)
        step = StepUsage(
            state=FALLBACK_STATE,
            function=train_function.rsplit(":", 1)[-1],
            memory_mb=memory_mb,
            architecture=architecture,  # type: ignore[arg-type]
            duration_s=sum(fits),
            invocations=len(fits),
            map_child=True,
        )
        note = (
            "the Distributed Map's child executions could not be read: their Train durations are the trials' "
            "recorded fit times, and their state transitions are not counted"
        )
        return total, [step], 0, [], note


# ---- prices ---------------------------------------------------------------------------------------------------
def price_run(usage: RunUsage, prices: PriceTable) -> PricedUsage:
    """Each item of the usage at its list price: quantity × unit price, line by line."""
    lines: list[CostLine] = []
    for architecture in ("x86_64", "arm64"):
        gb_s = sum(step.gb_s for step in usage.steps if step.architecture == architecture)
        if gb_s:
            lines.append(
                CostLine.of(f"Lambda compute ({architecture})", gb_s, "GB-s", prices.lambda_gb_s[architecture])
            )
    invocations = sum(step.invocations for step in usage.steps)
    lines.append(CostLine.of("Lambda requests", invocations, "request", prices.lambda_request))
    lines.append(
        CostLine.of("Step Functions", usage.state_transitions, "state transition", prices.sfn_state_transition)
    )
    for job in usage.training_jobs:
        hourly = prices.sagemaker_instance_hour.get(job.instance_type)
        if hourly is None:
            raise ValueError(
                f"the price table ({prices.as_of}, {prices.region}) has no price for {job.instance_type}: "
                "add it to a PriceTableUri table"
            )
        hours = job.billable_s * job.instance_count / 3600
        lines.append(CostLine.of(f"SageMaker {job.instance_type} ({job.name})", hours, "instance-hour", hourly))
    if usage.s3_put_requests:
        lines.append(CostLine.of("S3 PUT", usage.s3_put_requests, "request", prices.s3_put_request))
    if usage.s3_get_requests:
        lines.append(CostLine.of("S3 GET", usage.s3_get_requests, "request", prices.s3_get_request))
    if usage.s3_bytes_stored:
        lines.append(CostLine.of("S3 storage", usage.s3_bytes_stored / 1024**3, "GB-month", prices.s3_gb_month))
    return PricedUsage.of(lines)


def price_predictions(duration_ms: float, memory_mb: int, architecture: str, prices: PriceTable) -> PricedUsage:
    """1,000 predictions: API Gateway and Lambda requests, and compute at Lambda's 1 ms billing granularity."""
    billed_s = math.ceil(duration_ms) / 1000
    return PricedUsage.of(
        [
            CostLine.of("API Gateway", 1000, "request", prices.api_gateway_request),
            CostLine.of("Lambda requests", 1000, "request", prices.lambda_request),
            CostLine.of(
                f"Lambda compute ({architecture})",
                1000 * billed_s * memory_mb / 1024,
                "GB-s",
                prices.lambda_gb_s[architecture],  # type: ignore[index]
            ),
        ]
    )


def price_monitor_month(
    check_s: float,
    memory_mb: int,
    architecture: str,
    *,
    checks_per_month: float,
    transitions_per_check: int,
    prices: PriceTable,
) -> PricedUsage:
    """A month of drift checks: each check's Lambda compute and request and its state machine's transitions."""
    return PricedUsage.of(
        [
            CostLine.of(
                f"Lambda compute ({architecture})",
                checks_per_month * check_s * memory_mb / 1024,
                "GB-s",
                prices.lambda_gb_s[architecture],  # type: ignore[index]
            ),
            CostLine.of("Lambda requests", checks_per_month, "request", prices.lambda_request),
            CostLine.of(
                "Step Functions",
                checks_per_month * transitions_per_check,
                "state transition",
                prices.sfn_state_transition,
            ),
        ]
    )


def checks_per_month(rate: str) -> float:
    """How many times an EventBridge ``rate(N unit)`` expression fires in a 30-day month."""
    amount, unit = rate.strip().removeprefix("rate(").removesuffix(")").split()
    seconds = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}[unit]
    return SECONDS_PER_MONTH / (int(amount) * seconds)


# ---- what a card or a command line shows ---------------------------------------------------------------------
def summary(cost_document: dict[str, Any] | None) -> dict[str, Any] | None:
    """The figures a reader wants from a version's cost document: totals, what they cover and the prices' date."""
    if not cost_document:
        return None
    if "unavailable" in cost_document:
        return {"prices": cost_document.get("prices"), "unavailable": cost_document["unavailable"]}
    usage = cost_document.get("usage", {})
    figures = {
        "training_run_usd": cost_document["training_run"]["total_usd"],
        "scope": usage.get("scope"),
        "lambda_gb_s": sum(step["memory_mb"] / 1024 * step["duration_s"] for step in usage.get("steps", [])),
        "state_transitions": usage.get("state_transitions"),
        "map_child_runs": usage.get("map_child_runs"),
        "training_jobs": [
            f"{job['instance_type']} × {job['instance_count']} for {job['billable_s']:.0f} s"
            for job in usage.get("training_jobs", [])
        ],
        "per_1000_predictions_usd": (cost_document.get("per_1000_predictions") or {}).get("total_usd"),
        "monitor_monthly_usd": (cost_document.get("monitor_monthly") or {}).get("total_usd"),
        "prices": cost_document["prices"],
        "notes": usage.get("notes", []),
    }
    return figures


def summary_rows(figures: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """The summary as (label, text) rows; prices always say their region and date."""
    if not figures:
        return [("Cost", "not recorded (registered before costs were)")]
    prices = figures.get("prices") or {}
    priced = f"{prices.get('region')} list prices of {prices.get('as_of')} ({prices.get('source')})"
    if "unavailable" in figures:
        return [("Cost", figures["unavailable"]), ("Prices", priced)]
    money = lambda value: "not measured yet" if value is None else f"${value:.6f}"  # noqa: E731
    return [
        ("Training run", f"{money(figures['training_run_usd'])} ({figures['scope']})"),
        ("Lambda", f"{figures['lambda_gb_s']:.1f} GB-s"),
        ("State transitions", figures["state_transitions"]),
        ("Distributed Map child runs", figures["map_child_runs"]),
        ("SageMaker", "; ".join(figures["training_jobs"]) or "none"),
        ("Per 1,000 predictions", money(figures["per_1000_predictions_usd"])),
        ("Monitor, per month", money(figures["monitor_monthly_usd"])),
        ("Prices", priced),
    ]
