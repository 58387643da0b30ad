"""Evaluate step: pick the best candidate, score it and the champion on the holdout, apply the gate."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.observability import instrumented, logger, metrics
from mlops.records.events import EvaluateEvent, parse_event
from mlops.registry.store import ModelRegistry
from mlops.settings import EvaluateSettings, Settings
from mlops.training.evaluation import evaluate
from mlops.training.trials import read_trial_results


@instrumented
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    step = parse_event(EvaluateEvent, event)
    settings = Settings.from_environment()
    # A search's results are in the Distributed Map's ResultWriter files, not in the state
    candidates = step.candidates if step.trials is None else read_trial_results(step.trials.all_manifests())
    result = evaluate(
        step.request,
        step.dataset,
        candidates,
        execution_arn=step.execution_arn,
        settings=settings,
        registry=ModelRegistry.from_settings(settings),
        predict_function=EvaluateSettings.from_environment().predict_function,
        final_rung=step.trials.plan.rung if step.trials is not None else 0,
    )
    document = result.to_document()
    metrics.add_metric(name="GatePassed", unit=MetricUnit.Count, value=int(result.gate.passed))
    logger.info("candidates evaluated", extra={"gate": document["gate"]})
    return document
