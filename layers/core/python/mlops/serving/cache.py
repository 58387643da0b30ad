"""The inference endpoint's model resolution: alias → version → verified artifact, cached per environment.

A model is loaded once per execution environment and cached by artifact sha256 (verified against the
registry before use); the alias is re-read at most every ``refresh_s`` seconds, so a deployment reaches warm
instances without a cold start and a half-written model is never served (artifacts are write-once and
content-addressed; the alias moves only after they exist).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlops.data import dataset
from mlops.data.dataset import Schema
from mlops.errors import (
    ArtifactIntegrityError,
    ArtifactMissing,
    InvalidStepInput,
    LibraryVersionMismatch,
    ModelNotFound,
    SmokeTestFailed,
)
from mlops.registry import documents
from mlops.registry.records import PRODUCTION, SERVING_RUNTIMES, VERSION_REJECTED, VersionRecord
from mlops.registry.store import ModelRegistry
from mlops.serving.fallback import FallbackFailed, SklearnFunctionModel
from mlops.serving.runtime import (
    InvalidInstances,
    ModelNotServable,
    OnnxModel,
    SklearnModel,
    holdout_columns,
    parity_report,
    validate_instances,
)
from mlops.storage import objects
from mlops.storage.objects import S3Uri
from mlops.training.records import validated_schema

RUNTIMES = SERVING_RUNTIMES
ServedModel = OnnxModel | SklearnModel | SklearnFunctionModel


@dataclass
class LoadedVersion:
    model_name: str
    version: int
    schema: Schema
    model: ServedModel
    artifact_sha256: str


@dataclass
class Routing:
    production: LoadedVersion
    canary: LoadedVersion | None
    canary_weight: float
    resolved_at: float

    def choose(self, draw: float) -> LoadedVersion:
        """Pick the version for one request: the canary with probability canary_weight."""
        if self.canary is not None and draw < self.canary_weight:
            return self.canary
        return self.production


def _verified_bytes(uri: str, expected_sha256: str) -> bytes:
    payload = objects.get_bytes(S3Uri.parse(uri))
    actual = objects.sha256_hex(payload)
    if actual != expected_sha256:
        raise ArtifactIntegrityError(f"{uri} has sha256 {actual}; the registry recorded {expected_sha256}")
    return payload


class ModelCache:
    """Under runtime ``onnx``, a version recorded as served by scikit-learn is handed to ``sklearn_function``
    (the scikit-learn predict function); without one it cannot be served. Under ``sklearn`` every version is
    served here by its scikit-learn pipeline."""

    def __init__(
        self,
        registry: ModelRegistry,
        runtime: str,
        refresh_s: float,
        artifacts_bucket: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        sklearn_function: str | None = None,
    ) -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f"serving runtime must be one of {RUNTIMES}, not {runtime!r}")
        self.registry = registry
        self.runtime = runtime
        self.refresh_s = refresh_s
        self.artifacts_bucket = artifacts_bucket
        self.clock = clock
        self.sklearn_function = sklearn_function
        self._models: dict[str, ServedModel] = {}  # artifact sha256 -> loaded model
        self._routes: dict[str, Routing] = {}
        self._versions: dict[tuple[str, int], LoadedVersion] = {}
        self.loads = 0  # artifacts fetched and verified (tests and metrics read it)

    def _artifact_of(self, record: dict[str, Any]) -> tuple[str, str]:
        serving = record.serving
        if self.runtime == "onnx" and serving.served_by == "onnx" and serving.onnx_uri and serving.onnx_sha256:
            return serving.onnx_uri, serving.onnx_sha256
        return record.artifact_uri, record.artifact_sha256

    def _hand_over(self, record: VersionRecord, schema: Schema) -> SklearnFunctionModel:
        if self.sklearn_function is None:
            reason = record.serving.reason or "it was registered without an ONNX model"
            raise ModelNotServable(
                f"{record.model_name} v{record.version} cannot be served by onnxruntime: {reason}; "
                "this endpoint has no scikit-learn function to hand it to"
            )
        return SklearnFunctionModel(self.sklearn_function, record.model_name, record.version, schema)

    def load_version(self, model_name: str, version: int) -> LoadedVersion:
        # A version's artifact and schema never change once registered: resolve each version once.
        known = self._versions.get((model_name, version))
        if known is not None:
            return known
        record = self.registry.get_version(model_name, version)
        if record.status == VERSION_REJECTED:
            raise ModelNotServable(f"{model_name} v{version} was rejected by its gate")
        uri, digest = self._artifact_of(record)
        schema = Schema.from_dict(documents.schema_of(record))
        if self.runtime == "onnx" and record.serving.served_by == "sklearn":
            # Not loaded here: the scikit-learn function verifies and loads the artifact itself.
            model: ServedModel = self._hand_over(record, schema)
        else:
            model = self._models.get(digest)
            if model is None:
                model = self._load(record, uri, digest, schema)
                self._models[digest] = model
                self.loads += 1
        loaded = LoadedVersion(model_name, version, schema, model, digest)
        self._versions[(model_name, version)] = loaded
        return loaded

    def _load(self, record: VersionRecord, uri: str, digest: str, schema: Schema) -> ServedModel:
        # Artifacts come only from the registry's bucket, and only after their digest matches the record.
        if S3Uri.parse(uri).bucket != self.artifacts_bucket:
            raise ArtifactIntegrityError(f"{uri} is outside the registry's bucket {self.artifacts_bucket}")
        if self.runtime == "onnx":
            return OnnxModel(_verified_bytes(uri, digest), schema)
        import sklearn  # noqa: PLC0415 - the fallback runtime only

        trained_with = record.sklearn_version
        if trained_with != sklearn.__version__:
            raise LibraryVersionMismatch(
                f"{record.model_name} v{record.version} was trained with scikit-learn {trained_with}; "
                f"this runtime has {sklearn.__version__}"
            )
        return SklearnModel(_verified_bytes(uri, digest), schema)

    def routing(self, model_name: str) -> Routing:
        now = self.clock()
        cached = self._routes.get(model_name)
        if cached is not None and now - cached.resolved_at < self.refresh_s:
            return cached
        alias = self.registry.get_alias(model_name, PRODUCTION)
        if alias is None:
            raise ModelNotFound(f"model {model_name!r} has no production version")
        production = self.load_version(model_name, alias.version)
        canary = None
        if alias.canary_version:
            canary = self.load_version(model_name, alias.canary_version)
        routing = Routing(production, canary, float(alias.canary_weight or 0.0), now)
        self._routes[model_name] = routing
        return routing

    def choose(self, model_name: str, draw: Callable[[], float] = random.random) -> LoadedVersion:
        return self.routing(model_name).choose(draw())


def smoke_test(cache: ModelCache, model_name: str, version: int) -> dict[str, Any]:
    """Serve the version's own recorded input example through the serving runtime, before any alias moves."""
    try:
        loaded = cache.load_version(model_name, version)
    except (ModelNotServable, ArtifactIntegrityError, LibraryVersionMismatch) as exc:
        raise SmokeTestFailed(f"{model_name} v{version} cannot be loaded for serving: {exc}") from exc
    try:
        # read here, not when a version is loaded: only the smoke test needs it (one S3 read, sha256-verified)
        input_example = documents.input_example_of(cache.registry.get_version(model_name, version))
    except (ArtifactMissing, ArtifactIntegrityError) as exc:
        raise SmokeTestFailed(f"{model_name} v{version} has no readable input example: {exc}") from exc
    if not input_example:
        raise SmokeTestFailed(f"{model_name} v{version} has no recorded input example to test with")
    try:
        predicted = loaded.model.predict(validate_instances([input_example], loaded.schema))
    except (ModelNotServable, FallbackFailed) as exc:
        raise SmokeTestFailed(f"{model_name} v{version} cannot be served: {exc}") from exc
    except (InvalidInstances, ValueError, RuntimeError) as exc:
        raise SmokeTestFailed(f"{model_name} v{version} failed on its input example: {exc}") from exc
    prediction = predicted.labels[0]
    if isinstance(prediction, float) and not math.isfinite(prediction):
        raise SmokeTestFailed(f"{model_name} v{version} predicted a non-finite value on its input example")
    return {
        "passed": True,
        "model_name": model_name,
        "version": version,
        "runtime": loaded.model.runtime,
        "prediction": prediction,
    }


def load_schema_document(uri: str, sha256: str) -> Schema:
    """A run's schema, passed by reference in the state: read only if it hashes to the digest, then checked."""
    try:
        return validated_schema(objects.get_verified_json(uri, sha256))
    except ValueError as exc:
        raise InvalidStepInput(f"{uri}: {exc}") from exc


def parity_check(onnx_uri: str, onnx_sha256: str, schema: Schema, test_uri: str, reference_uri: str) -> dict[str, Any]:
    """Run the converted model with the serving runtime on the holdout and compare with scikit-learn's outputs."""
    model = OnnxModel(_verified_bytes(onnx_uri, onnx_sha256), schema)
    table = dataset.from_npz(objects.get_bytes(S3Uri.parse(test_uri)))
    columns = holdout_columns(dataset.feature_matrix(table, schema), schema)
    import onnxruntime  # noqa: PLC0415 - already imported by OnnxModel; only its version is read here

    report = parity_report(model, columns, objects.get_json(S3Uri.parse(reference_uri)))
    return {**report, "libraries": {"onnxruntime": onnxruntime.__version__}}
