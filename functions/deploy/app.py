"""Deploy step: move the production alias to the new version, keeping the previous one for rollback.

With ``{"undo": {"state_input": ..., "execution_arn": ...}}`` (the ASL's UndoDeployment state, which every Catch that
ends a run passes through) it undoes a production move the failed run made: with the admin API, this function is
the only writer of aliases."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.contracts import DeployEvent, UndoDeploymentEvent, parse_event
from mlops.governance.failed_runs import failure_of, undo_deployment
from mlops.registry.records import MODEL_NAME_PATTERN_RE
from mlops.registry.store import ModelRegistry
from mlops.serving.deploy import deploy
from mlops.settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = Settings.from_environment()
    if isinstance(event, dict) and "undo" in event:
        return _undo(parse_event(UndoDeploymentEvent, event["undo"]), settings)
    step = parse_event(DeployEvent, event)
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


def _undo(step: UndoDeploymentEvent, settings: Settings) -> dict:
    failure = failure_of(step.state_input)
    request = step.state_input.get("request") if isinstance(step.state_input.get("request"), dict) else step.state_input
    model_name = request.get("model_name")
    if failure is None or not isinstance(model_name, str) or not MODEL_NAME_PATTERN_RE.match(model_name):
        return {"reverted": False}
    reverted = undo_deployment(
        ModelRegistry.from_settings(settings), model_name, execution_arn=step.execution_arn, state=failure[0]
    )
    if reverted:
        logger.info("deployment undone", extra={"model_name": model_name, "state": failure[0]})
    return {"reverted": reverted}
