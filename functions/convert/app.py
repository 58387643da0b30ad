"""Convert step: turn the winner into an ONNX model and store scikit-learn's holdout outputs for parity."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.observability import instrumented, logger, metrics
from mlops.records.events import ConvertEvent, parse_event
from mlops.settings import Settings
from mlops.training.conversion import convert


@instrumented
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    step = parse_event(ConvertEvent, event)
    result = convert(
        step.dataset, step.evaluation, execution_arn=step.execution_arn, settings=Settings.from_environment()
    )
    metrics.add_metric(name="OnnxConverted", unit=MetricUnit.Count, value=int(result.converted))
    logger.info("conversion attempted", extra={"converted": result.converted, "reason": result.reason})
    return result.to_document()
