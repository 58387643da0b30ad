"""PlanTrials step: write a rung's trial list to S3 for the Distributed Map (the sampled search, or the best of
the rung that just ran, with successive halving)."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.observability import instrumented, logger, metrics
from mlops.records.events import PlanTrialsEvent, parse_event
from mlops.settings import Settings
from mlops.training.trials import plan_trials


@instrumented
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    step = parse_event(PlanTrialsEvent, event)
    plan = plan_trials(step.request, step.execution_arn, Settings.from_environment(), step.trials)
    metrics.add_metric(name="TrialsPlanned", unit=MetricUnit.Count, value=plan.count)
    logger.info("trials planned", extra={"rung": plan.rung, "trials": plan.count, "key": plan.trials_key})
    return plan.to_document()
