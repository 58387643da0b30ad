"""RecordFailure step: make the registry agree with the named failure state a training run ends in (a version
the run registered is Abandoned if the state says nothing was registered; see mlops.governance.failed_runs), then
append the TrainingRunFailed audit event, so the model's trail shows failed runs too. The run ends in its named state
either way. An alias the run moved was put back before, by the Deploy function (UndoDeployment): this role may not
write aliases.

The state machine sends the run's state input; the Catch that ended the run wrote its error under
``failure.<named end state>`` (``mlops.records.funnel.failure_of``). An event may also name its ``state`` itself."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.governance.failed_runs import reconcile_failed_run, run_outcome, step_failure
from mlops.observability import instrumented, logger, metrics
from mlops.records.events import RecordFailureEvent, parse_event
from mlops.records.funnel import failure_of
from mlops.records.lineage import run_id_of
from mlops.records.registry import MODEL_NAME_PATTERN_RE
from mlops.registry.store import ModelRegistry
from mlops.settings import Settings


def _model_name(state_input: dict[str, Any]) -> str | None:
    """The run's model: in the normalised request after Prepare, at the top of the raw request before it."""
    request = state_input.get("request") if isinstance(state_input.get("request"), dict) else state_input
    name = request.get("model_name")
    return name if isinstance(name, str) and MODEL_NAME_PATTERN_RE.fullmatch(name) else None


def _with_state(event: Any) -> Any:
    """The event as RecordFailureEvent reads it: its ``state`` is the one its ``state_input.failure`` names."""
    if isinstance(event, dict) and "state" not in event and isinstance(event.get("state_input"), dict):
        failure = failure_of(event["state_input"])
        if failure is not None:
            return {**event, "state": failure[0]}
    return event


@instrumented
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    step = parse_event(RecordFailureEvent, _with_state(event))
    failure = failure_of(step.state_input)
    # a failed Rollout (a nested execution) is reported as the error of its step that failed
    error = step_failure(failure[1] if failure is not None else step.state_input.get("error") or {})
    model_name = _model_name(step.state_input)
    outcome = run_outcome(error)  # what the named Fail state reports ($.outcome)
    metrics.add_metric(name="TrainingRunsFailed", unit=MetricUnit.Count, value=1)
    if model_name is None:
        logger.warning("failed run without a valid model name; no audit event", extra={"state": step.state})
        return {"recorded": False, "state": step.state, **outcome}
    registry = ModelRegistry.from_settings(Settings.from_environment())
    undo = step.state_input.get("undo_deployment")
    alias_reverted = undo.get("reverted") if isinstance(undo, dict) else None  # None: UndoDeployment failed
    reconciled = reconcile_failed_run(
        registry,
        model_name,
        execution_arn=step.execution_arn,
        state=step.state,
        alias_reverted=alias_reverted if isinstance(alias_reverted, bool) else None,
    )
    # A step's error by name only: its cause can quote the data, and the audit trail is an API answer (the
    # execution's history keeps it, states:GetExecutionHistory). A States.* cause is the service's own words about
    # a limit or the runtime, never data: kept, so a limit failure reads well.
    registry.record_event(
        model_name,
        "TrainingRunFailed",
        actor=f"pipeline:{run_id_of(step.execution_arn)}",
        reason=f"{step.state}: {error.get('Error', 'unknown error')}",
        after={
            "state": step.state,
            "error": error.get("Error"),
            "cause": str(error.get("Cause", ""))[:2000] if str(error.get("Error", "")).startswith("States.") else None,
            "ended_with": outcome["error"],
            "execution_arn": step.execution_arn,
            **reconciled,
        },
    )
    return {"recorded": True, "state": step.state, "model_name": model_name, **reconciled, **outcome}
