"""Batch function: the steps of the BatchTransform state machine (plan, score one chunk, finish, record a failure).
The work is in mlops.serving.batch; scoring goes through the endpoint's model cache, validation and runtime."""

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.observability import logger
from mlops.records.events import (
    BatchStep,
    FinishJobEvent,
    PlanJobEvent,
    RecordBatchFailureEvent,
    ScoreChunkEvent,
    parse_event,
)
from mlops.registry.store import ModelRegistry
from mlops.serving import batch
from mlops.serving.cache import ModelCache
from mlops.settings import BatchSettings, ModelCacheSettings, Settings

if os.environ.get("SERVING_RUNTIME") == "onnx":
    import onnxruntime  # noqa: F401 - imported at init, not in the first chunk's time


@cache
def _settings() -> Settings:
    return Settings.from_environment()


@cache
def _model_cache() -> ModelCache:
    """One per execution environment: the chunks an environment scores load the job's version once."""
    settings, scoring = _settings(), BatchSettings.from_environment()
    return ModelCache(
        ModelRegistry.from_settings(settings),
        scoring.serving_runtime,
        0.0,  # a job scores the version planning resolved; no alias is followed after that
        settings.artifacts_bucket,
        sklearn_function=scoring.sklearn_function if scoring.serving_runtime == "onnx" else None,
        max_bytes=ModelCacheSettings.from_environment().max_bytes,
    )


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict[str, Any]:
    bucket = _settings().artifacts_bucket
    match parse_event(BatchStep, event).root:
        case PlanJobEvent() as step:
            planned = batch.plan_job(
                step.start,
                ModelRegistry.from_settings(_settings()),
                bucket,
                max_concurrency=BatchSettings.from_environment().max_concurrency,
            )
            logger.info("batch job planned", extra={"job_id": planned.job_id, "chunks": planned.chunks})
            return planned.model_dump()
        case ScoreChunkEvent() as step:
            scored = batch.score_chunk(step, _model_cache(), bucket)
            logger.info("chunk scored", extra=scored)
            return scored
        case FinishJobEvent() as step:
            summary = batch.finish_job(step.job, bucket)
            logger.info("batch job finished", extra=summary)
            return summary
        case RecordBatchFailureEvent() as step:
            return batch.record_failure(step.state, step.end_state, step.error, bucket)
