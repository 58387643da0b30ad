"""Deploy step: move the production alias to the new version, keeping the previous one for rollback."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.contracts import DeployEvent, parse_event
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
    step = parse_event(DeployEvent, event)
    settings = Settings.from_environment()
    result = deploy(
        step.model_name,
        step.version,
        execution_arn=step.execution_arn,
        reason=step.reason,
        registry=ModelRegistry(settings.registry_table),
    )
    metrics.add_metric(name="Deployments", unit=MetricUnit.Count, value=int(result["changed"]))
    logger.info("alias moved", extra={"deployment": result})
    return result
