"""Train step: fit one candidate (one Map iteration) and store its artifact with its sha256; or, after a SageMaker
training job fitted it, collect the candidate the job wrote (the same record, whichever engine trained)."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.observability import instrumented, logger, metrics
from mlops.records.events import TrainEvent, parse_event
from mlops.settings import Settings
from mlops.training.train import collect_training_job, train


@instrumented
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    step = parse_event(TrainEvent, event)
    settings = Settings.from_environment()
    trial = {"trial_id": step.trial_id, "rung": step.rung, "fraction": step.fraction}
    if step.training_job is not None:
        result = collect_training_job(
            step.training_job, step.candidate, step.index, execution_arn=step.execution_arn, settings=settings, **trial
        )
    else:
        result = train(
            step.candidate,
            step.index,
            step.dataset,
            seed=step.seed,
            execution_arn=step.execution_arn,
            settings=settings,
            deadline_epoch_s=step.deadline_epoch_s,
            **trial,
        )
    fit_s = getattr(result, "fit_s", None)  # a trial skipped for the search's time budget has none
    metrics.add_metric(name="FitSeconds", unit=MetricUnit.Seconds, value=fit_s or 0.0)
    logger.info(
        "candidate trained",
        extra={"estimator": result.estimator, "status": result.status, "fit_s": fit_s, "compute": result.compute},
    )
    return result.to_document()
