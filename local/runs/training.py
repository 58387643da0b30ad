"""Start a TrainingPipeline execution on the local stack, follow it state by state, and summarise it."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.stack import LocalStack
from mlops.governance.failed_runs import step_error_of
from mlops.storage.objects import S3Uri

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
POLL_INTERVAL_S = 0.1


@dataclass
class ProgressEvent:
    kind: str  # "entered", "exited", "failed"
    state: str
    elapsed_s: float
    detail: str = ""


@dataclass
class PipelineResult:
    status: str
    execution_arn: str
    model_name: str
    duration_s: float
    output: dict[str, Any] | None = None
    error: str | None = None
    cause: str | None = None
    end_state: str | None = None
    states: list[str] = field(default_factory=list)
    # the run's documents that the state carries by reference (schema, leaderboard), read back from S3
    documents: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> int | None:
        return (self.output or {}).get("registration", {}).get("version")

    @property
    def deployed(self) -> bool:
        return self.status == "SUCCEEDED" and self.end_state == "Deployed"

    @property
    def trials(self) -> int | None:
        """The trials sampled (or candidates listed): the leaderboard's first rung, one entry each."""
        leaderboard = self.documents.get("leaderboard")
        if not isinstance(leaderboard, list):
            return None
        return sum(1 for entry in leaderboard if entry.get("rung", 0) == 0)

    def summary(self) -> dict[str, Any]:
        """The run-pipeline --json document."""
        evaluation = (self.output or {}).get("evaluation", {})
        evaluation = evaluation if isinstance(evaluation, dict) else {}  # before Evaluate: the candidates' records
        registration = (self.output or {}).get("registration", {})
        schema = self.documents.get("schema") or {}
        step_error, step_cause = step_error_of(self.error, self.cause)
        return {
            "status": self.status,
            "model_name": self.model_name,
            "version": self.version,
            "version_status": registration.get("status"),
            "metrics": evaluation.get("metrics"),
            "positive_class": schema.get("positive_class"),
            "gate": evaluation.get("gate"),
            "columns": schema.get("columns"),
            "read_as": schema.get("read_as"),
            "features": [f["name"] for f in schema.get("features", [])] or None,
            "deployed": self.deployed,
            "end_state": self.end_state,
            "winner": evaluation.get("winner", {}).get("estimator"),
            "winner_trial_id": evaluation.get("winner", {}).get("trial_id"),
            "trials": self.trials,
            # the engine that trained the winner (lambda or sagemaker), and why the run used it
            "compute": evaluation.get("winner", {}).get("compute"),
            "compute_reason": (self.output or {}).get("request", {}).get("compute_reason"),
            "leaderboard": self.documents.get("leaderboard"),
            "artifact_uri": registration.get("artifact_uri"),
            "artifact_sha256": registration.get("artifact_sha256"),
            "baseline_uri": registration.get("baseline_uri"),
            "execution_arn": self.execution_arn,
            "duration_s": round(self.duration_s, 3),
            "error": self.error,
            "error_message": error_message(step_cause),
            "step_error": step_error,
        }


def error_message(cause: str | None) -> str | None:
    """A Lambda failure's cause is its JSON error document; a person wants its errorMessage."""
    if not cause:
        return None
    try:
        return json.loads(cause).get("errorMessage", cause)
    except (ValueError, AttributeError):
        return cause


def _read_document(stack: LocalStack, reference: Any) -> Any:
    """A document the state carries by reference ({uri, sha256, size_bytes}), read if it hashes to its digest."""
    if not isinstance(reference, dict) or not isinstance(reference.get("uri"), str):
        return None
    location = S3Uri.parse(reference["uri"])
    payload = stack.client("s3").get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
    if hashlib.sha256(payload).hexdigest() != reference.get("sha256"):
        raise ValueError(f"{location} does not hash to the sha256 the state carries")
    return json.loads(payload)


def run_documents(stack: LocalStack, output: dict[str, Any] | None) -> dict[str, Any]:
    """The schema and the leaderboard of a finished run, from the references in its output."""
    output = output or {}
    return {
        "schema": _read_document(stack, output.get("dataset", {}).get("schema")),
        "leaderboard": _read_document(stack, output.get("evaluation", {}).get("leaderboard")),
    }


def largest_state_payload(events: list[dict[str, Any]]) -> tuple[int, str]:
    """The largest state input or output of an execution (UTF-8 bytes, as Step Functions counts them) and the state."""
    largest = (0, "")
    for event in events:
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails")
        if details:
            payload = details.get("input") if "input" in details else details.get("output")
            largest = max(largest, (len((payload or "").encode()), details["name"]))
    return largest


def execution_history(stack: LocalStack, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = stack.client("stepfunctions").get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def rollout_execution_arn(stack: LocalStack, execution_arn: str) -> str:
    """The Rollout execution a TrainingPipeline run starts (its Rollout task): named after the run."""
    return stack.rollout_arn.replace(":stateMachine:", ":execution:") + ":" + execution_arn.rsplit(":", 1)[-1]


def _exit_detail(details: dict[str, Any]) -> str:
    """A word on what a state produced, where a person would ask (which version; trials run in the Distributed Map's
    child executions, reported by the leaderboard)."""
    try:
        output = json.loads(details.get("output") or "{}")
    except ValueError:
        return ""
    if not isinstance(output, dict):
        return ""
    if details["name"] == "Register":
        registration = output.get("registration", {})
        return f"v{registration.get('version')} {registration.get('status')}"
    return ""


def _progress(event: dict[str, Any], started: float) -> ProgressEvent | None:
    kind = event["type"]
    elapsed = (event["timestamp"].timestamp() - started) if hasattr(event["timestamp"], "timestamp") else 0.0
    if kind.endswith("StateEntered"):
        return ProgressEvent("entered", event["stateEnteredEventDetails"]["name"], elapsed)
    if kind.endswith("StateExited"):
        details = event["stateExitedEventDetails"]
        return ProgressEvent("exited", details["name"], elapsed, _exit_detail(details))
    if kind in {"TaskFailed", "LambdaFunctionFailed"}:
        details = event.get("taskFailedEventDetails") or event.get("lambdaFunctionFailedEventDetails") or {}
        return ProgressEvent("failed", details.get("error", ""), elapsed, error_message(details.get("cause")) or "")
    return None


def follow(
    stack: LocalStack,
    execution_arn: str,
    *,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    timeout_s: float = 600.0,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Wait (bounded by ``timeout_s``) for an execution to end; report its states as they happen."""
    sfn = stack.client("stepfunctions")
    started = sfn.describe_execution(executionArn=execution_arn)["startDate"].timestamp()
    seen = 0
    deadline = time.monotonic() + timeout_s
    while True:
        description = sfn.describe_execution(executionArn=execution_arn)
        events = execution_history(stack, execution_arn)
        for event in events[seen:]:
            progress = _progress(event, started)
            if progress and on_progress:
                on_progress(progress)
        seen = len(events)
        if description["status"] in TERMINAL:
            return description, events
        if time.monotonic() > deadline:
            sfn.stop_execution(executionArn=execution_arn, error="LocalTimeout", cause=f"over {timeout_s} s")
            raise TimeoutError(f"{execution_arn} did not finish within {timeout_s} s")
        time.sleep(POLL_INTERVAL_S)


def run_training(
    stack: LocalStack,
    request: dict[str, Any],
    on_progress: Callable[[ProgressEvent], None] | None = None,
    timeout_s: float = 900.0,
    execution_name: str | None = None,
) -> PipelineResult:
    """Run the real TrainingPipeline state machine and wait (bounded by ``timeout_s``) for its end."""
    sfn = stack.client("stepfunctions")
    started = time.time()
    execution_arn = sfn.start_execution(
        stateMachineArn=stack.training_pipeline_arn,
        name=execution_name or f"train-{uuid.uuid4().hex[:12]}",
        input=json.dumps(request),
    )["executionArn"]
    description, events = follow(stack, execution_arn, on_progress=on_progress, timeout_s=timeout_s)
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
    output = json.loads(description["output"]) if description.get("output") else None
    error, cause = description.get("error"), description.get("cause")
    if description["status"] == "FAILED" and not error:
        failed = next((e for e in reversed(events) if e["type"] == "ExecutionFailed"), None)
        details = (failed or {}).get("executionFailedEventDetails", {})
        error, cause = details.get("error"), details.get("cause")
    return PipelineResult(
        status=description["status"],
        execution_arn=execution_arn,
        model_name=request.get("model_name", ""),
        duration_s=time.time() - started,
        output=output,
        error=error,
        cause=cause,
        end_state=entered[-1] if entered else None,
        states=entered,
        documents=run_documents(stack, output),
    )
