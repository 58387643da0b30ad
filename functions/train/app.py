"""Train step: fit one candidate (one Map iteration) and store its artifact with its sha256."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.contracts import TrainEvent, parse_event
from mlops.settings import Settings
from mlops.training.steps import train

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    step = parse_event(TrainEvent, event)
    result = train(
        step.candidate,
        step.index,
        step.dataset,
        seed=step.seed,
        execution_arn=step.execution_arn,
        settings=Settings.from_environment(),
        trial_id=step.trial_id,
        rung=step.rung,
        fraction=step.fraction,
        deadline_epoch_s=step.deadline_epoch_s,
    )
    fit_s = getattr(result, "fit_s", None)
    metrics.add_metric(name="FitSeconds", unit=MetricUnit.Seconds, value=fit_s or 0.0)
    logger.info("candidate trained", extra={"estimator": result.estimator, "status": result.status, "fit_s": fit_s})
    return result.to_document()
