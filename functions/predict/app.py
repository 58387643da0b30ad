"""Predict function: POST /models/{name}/predict, plus the pipeline's smoke-test and ONNX parity checks, a
version's outputs on a holdout (``score_holdout``: the gate's way to a champion trained by another scikit-learn),
and a shadow's replay of production's captured requests (``shadow_replay``: a shadow rollout's bake).

Under ServingRuntime=onnx a version whose ONNX model did not pass the parity check (recorded in the registry as
``serving.runtime = "sklearn"``) is served by handing its validated rows to the scikit-learn predict function
(functions/predict_sklearn), synchronously; the route, the API key, the alias routing and the capture stay here.

The hot path is lean on purpose (see mlops.serving.http): no event_handler resolver and no Tracer (Lambda's
active tracing still records each invocation; Powertools' Tracer would add the X-Ray SDK's ~200 ms import to
every cold start). Heavy imports happen at init, so SnapStart's snapshot holds them.
"""

import os
import sys
from functools import cache

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.observability import logger
from mlops.records.events import (
    ParityCheckEvent,
    PredictStep,
    ScoreHoldoutEvent,
    ShadowReplayEvent,
    SmokeTestEvent,
    parse_event,
)
from mlops.registry.store import ModelRegistry
from mlops.serving.cache import ModelCache, load_schema_document, parity_check, score_holdout, smoke_test
from mlops.serving.http import RequestMetrics, handle_predict
from mlops.serving.shadow import replay
from mlops.settings import EndpointSettings, ModelCacheSettings, Settings

if os.environ.get("SERVING_RUNTIME") == "onnx":
    import onnxruntime  # noqa: F401 - imported at init, inside the SnapStart snapshot, not on the first request

_cache: ModelCache | None = None


@cache
def _endpoint_settings() -> EndpointSettings:
    """Read once per execution environment, not on every request (this is the hot path)."""
    return EndpointSettings.from_environment()


@cache
def _request_metrics() -> RequestMetrics:
    """The per-model metrics go where Powertools puts the stack's (POWERTOOLS_METRICS_NAMESPACE and _SERVICE_NAME)."""
    powertools = Metrics()
    return RequestMetrics(powertools.namespace, powertools.service)


def _model_cache() -> tuple[ModelCache, EndpointSettings]:
    global _cache  # noqa: PLW0603 - one cache per execution environment is the point
    endpoint = _endpoint_settings()
    if _cache is None:
        settings = Settings.from_environment()
        _cache = ModelCache(
            ModelRegistry.from_settings(settings),
            endpoint.serving_runtime,
            endpoint.alias_refresh_s,
            settings.artifacts_bucket,
            sklearn_function=endpoint.sklearn_function if endpoint.serving_runtime == "onnx" else None,
            max_bytes=ModelCacheSettings.from_environment().max_bytes,
        )
    return _cache, endpoint


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    cache, endpoint = _model_cache()
    if isinstance(event, dict) and "step" in event:  # a step of a state machine or a function; else API Gateway's
        return _run_step(parse_event(PredictStep, event).root, cache)
    context_id = (event.get("requestContext") or {}).get("requestId") if isinstance(event, dict) else None
    request_id = context_id if isinstance(context_id, str) else context.aws_request_id
    return handle_predict(
        event,
        request_id,
        cache,
        capture_sample_rate=endpoint.capture_sample_rate,
        write_line=sys.stdout.write,
        metrics=_request_metrics(),
    )


def _run_step(
    step: SmokeTestEvent | ParityCheckEvent | ScoreHoldoutEvent | ShadowReplayEvent, cache: ModelCache
) -> dict:
    match step:
        case SmokeTestEvent():
            result = smoke_test(cache, step.model_name, step.version)
            logger.info("smoke test passed", extra={"smoke_test": result})
            return result
        case ParityCheckEvent():
            schema = load_schema_document(step.schema_ref.uri, step.schema_ref.sha256)
            report = parity_check(step.onnx_uri, step.onnx_sha256, schema, step.test_uri, step.reference_uri)
            logger.info("parity checked", extra={"parity": report})
            return report
        case ScoreHoldoutEvent():
            scored = score_holdout(cache, step.model_name, step.version, step.test_uri)
            logger.info("holdout scored", extra={"model_name": step.model_name, "version": step.version})
            return scored
        case ShadowReplayEvent():
            report = replay(
                cache,
                step.model_name,
                champion_version=step.champion_version,
                challenger_version=step.version,
                start=step.since,
            )
            logger.info("shadow replayed", extra={"shadow": report})
            return report
