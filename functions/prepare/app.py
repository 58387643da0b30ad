"""Prepare step: validate the request and dataset, infer the schema, split, store splits and baseline."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.observability import instrumented, logger, metrics
from mlops.records.events import PrepareEvent, parse_event
from mlops.records.request import parse_training_request
from mlops.settings import ComputeSettings, GovernanceSettings, PipelineSettings, Settings
from mlops.training.prepare import prepare


@instrumented
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    step = parse_event(PrepareEvent, event)
    request = parse_training_request(step.request)  # InvalidTrainingRequest names the field
    result = prepare(
        request,
        step.execution_arn,
        Settings.from_environment(),
        PipelineSettings.from_environment(),
        policy=GovernanceSettings.from_environment(),
        compute_settings=ComputeSettings.from_environment(),
    )
    metrics.add_metric(name="DatasetRows", unit=MetricUnit.Count, value=result.dataset.rows)
    logger.info(
        "dataset prepared",
        extra={"dataset": result.dataset.uri, "rows": result.dataset.rows, "compute": result.request.compute},
    )
    return result.to_document()
