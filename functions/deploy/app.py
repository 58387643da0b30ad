"""Deploy step: move the production alias to the new version, keeping the previous one for rollback.

The event's ``step`` says which job (``mlops.records.events.DeployStep``): ``deploy`` moves production at once;
the progressive strategies run ``start_rollout`` (the canary's first weight or the shadow) and ``check_bake`` (judge a
finished bake on the version's serving metrics, then advance, promote or roll back); ``undo_deployment`` (the ASL's
UndoDeployment state, which every Catch that ends a run passes through) undoes a production move, canary or shadow
the failed run made. With the admin API, this function is the only writer of aliases."""

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.observability import instrumented, logger, metrics
from mlops.records.events import (
    CheckBakeEvent,
    DeployEvent,
    DeployStep,
    StartRolloutEvent,
    UndoDeploymentEvent,
    parse_event,
)
from mlops.records.funnel import failure_of
from mlops.records.registry import MODEL_NAME_PATTERN_RE
from mlops.registry.store import ModelRegistry
from mlops.serving import rollout
from mlops.serving.bake_metrics import CloudWatchServingMetrics, ServingObservation
from mlops.serving.deploy import deploy, undo_deployment
from mlops.settings import Settings

DECISION_METRICS = {"baking": "RolloutAdvanced", "promoted": "RolloutPromoted", "rolled_back": "RolloutRolledBack"}


@instrumented
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = Settings.from_environment()
    match parse_event(DeployStep, event).root:
        case UndoDeploymentEvent() as step:
            return _undo(step, settings)
        case StartRolloutEvent() as step:
            return _start_rollout(step, settings)
        case CheckBakeEvent() as step:
            return _check_bake(step, settings)
        case DeployEvent() as step:
            return _deploy(step, settings)


def _deploy(step: DeployEvent, settings: Settings) -> dict:
    result = deploy(
        step.model_name,
        step.version,
        execution_arn=step.execution_arn,
        reason=step.reason,
        registry=ModelRegistry.from_settings(settings),
    )
    metrics.add_metric(name="Deployments", unit=MetricUnit.Count, value=int(result["changed"]))
    logger.info("alias moved", extra={"deployment": result})
    return result


def _start_rollout(step: StartRolloutEvent, settings: Settings) -> dict:
    state = rollout.start(
        ModelRegistry.from_settings(settings),
        step.model_name,
        step.version,
        step.deployment,
        execution_arn=step.execution_arn,
    )
    logger.info("rollout started", extra={"rollout": state.document()})
    return state.document()


def _check_bake(step: CheckBakeEvent, settings: Settings) -> dict:
    state = step.rollout
    if state.strategy == "shadow":
        report = state.shadow_report or {}
        observed = ServingObservation(
            requests=int(report.get("requests") or 0),
            errors=int(report.get("errors") or 0),
            p99_latency_ms=report.get("p99_latency_ms"),
            disagreement=report.get("disagreement"),
        )
    else:
        powertools = Metrics()  # the predict function's namespace and service: the same Globals
        source = CloudWatchServingMetrics(powertools.namespace, powertools.service)
        observed = source.observe(state.model_name, state.version, state.step_started_at, rollout.now())
    decided = rollout.check(
        ModelRegistry.from_settings(settings),
        state.model_copy(update={"shadow_report": None}),
        step.thresholds,
        observed,
        execution_arn=step.execution_arn,
    )
    metrics.add_metric(name=DECISION_METRICS[decided.outcome], unit=MetricUnit.Count, value=1)
    logger.info("bake checked", extra={"rollout": decided.document(), "observed": observed.to_document()})
    return decided.document()


def _undo(step: UndoDeploymentEvent, settings: Settings) -> dict:
    failure = failure_of(step.state_input)
    request = step.state_input.get("request") if isinstance(step.state_input.get("request"), dict) else step.state_input
    model_name = request.get("model_name")
    if failure is None or not isinstance(model_name, str) or not MODEL_NAME_PATTERN_RE.fullmatch(model_name):
        return {"reverted": False}
    reverted = undo_deployment(
        ModelRegistry.from_settings(settings), model_name, execution_arn=step.execution_arn, state=failure[0]
    )
    if reverted:
        logger.info("deployment undone", extra={"model_name": model_name, "state": failure[0]})
    return {"reverted": reverted}
