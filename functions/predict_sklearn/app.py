"""Scikit-learn predict function: serves the versions onnxruntime cannot serve within the parity tolerance.

Not on the API: only the predict function invokes it (IAM allows no other caller), with one version's feature
columns that the predict function has already validated against the schema. It loads the registered
scikit-learn pipeline (sha256-verified, scikit-learn version checked) once per execution environment.
"""

from functools import cache

import sklearn  # noqa: F401 - imported at init, inside the SnapStart snapshot, not on the first request
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlops.observability import logger
from mlops.records.events import ServeVersionEvent, parse_event
from mlops.registry.store import ModelRegistry
from mlops.serving.cache import ModelCache
from mlops.serving.fallback import serve_version
from mlops.settings import ModelCacheSettings, Settings


@cache
def _model_cache() -> ModelCache:
    """One cache per execution environment: a version's model is loaded once. The alias is never read here
    (the predict function chooses the version), so the refresh interval does not matter."""
    settings = Settings.from_environment()
    return ModelCache(
        ModelRegistry.from_settings(settings),
        "sklearn",
        0.0,
        settings.artifacts_bucket,
        max_bytes=ModelCacheSettings.from_environment().max_bytes,
    )


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = parse_event(ServeVersionEvent, event)
    return serve_version(_model_cache(), request.model_name, request.version, request.columns)
