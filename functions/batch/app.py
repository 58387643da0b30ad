"""Batch function: the steps of the BatchTransform state machine (plan, score one chunk, finish, record a failure).
The work is in mlops.serving.batch; scoring goes through the endpoint's model cache, validation and runtime."""

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.errors import InvalidStepInput
from mlops.records.batch import BatchJobStart, PlannedJob
from mlops.records.events import ScoreChunkEvent, parse_event
from mlops.registry.store import ModelRegistry
from mlops.serving import batch
from mlops.serving.cache import ModelCache
from mlops.settings import BatchSettings, ModelCacheSettings, Settings

if os.environ.get("SERVING_RUNTIME") == "onnx":
    import onnxruntime  # noqa: F401 - imported at init, not in the first chunk's time

logger = Logger()
STEPS = ("plan", "score", "finish", "failed")


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
    step = next((name for name in STEPS if isinstance(event, dict) and name in event), None)
    if step is None:
        raise InvalidStepInput(f"a batch step event has one of {STEPS}")
    bucket = _settings().artifacts_bucket
    if step == "plan":
        start = parse_event(BatchJobStart, event["plan"])
        planned = batch.plan_job(start, ModelRegistry.from_settings(_settings()), bucket)
        logger.info("batch job planned", extra={"job_id": planned.job_id, "chunks": planned.chunks})
        return planned.model_dump()
    if step == "score":
        scored = batch.score_chunk(parse_event(ScoreChunkEvent, event["score"]), _model_cache(), bucket)
        logger.info("chunk scored", extra=scored)
        return scored
    if step == "finish":
        summary = batch.finish_job(parse_event(PlannedJob, event["finish"]), bucket)
        logger.info("batch job finished", extra=summary)
        return summary
    failed = event["failed"]
    if not isinstance(failed, dict) or not isinstance(failed.get("state"), dict) or "end_state" not in failed:
        raise InvalidStepInput("a failure event has {state, end_state, error}")
    return batch.record_failure(failed["state"], failed["end_state"], failed.get("error"), bucket)
