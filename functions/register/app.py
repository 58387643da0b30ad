"""Register step: record the winner as a new version (Registered or Rejected) with its lineage."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.observability import instrumented, logger, metrics
from mlops.records.events import RegisterEvent, parse_event
from mlops.registry.store import ModelRegistry
from mlops.settings import Settings
from mlops.training.register import register
from mlops.training.run_cost import CostSettings, run_cost_reader


@instrumented
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    step = parse_event(RegisterEvent, event)
    settings = Settings.from_environment()
    result = register(
        step.request,
        step.dataset,
        step.evaluation,
        execution_arn=step.execution_arn,
        settings=settings,
        registry=ModelRegistry.from_settings(settings),
        conversion_result=step.conversion,
        parity=step.parity,
        run_cost=run_cost_reader(step.execution_arn, CostSettings.from_environment()),
    )
    document = result.to_document()
    metrics.add_metric(name=f"Versions{result.status}", unit=MetricUnit.Count, value=1)
    logger.info("version recorded", extra={"registration": document})
    return document
