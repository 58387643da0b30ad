"""The inference endpoint's model resolution: alias → version → verified artifact, cached per environment.

A model is loaded once per execution environment and cached by artifact sha256 (verified against the
registry before use); the alias is re-read at most every ``refresh_s`` seconds, so a deployment reaches warm
instances without a cold start and a half-written model is never served (artifacts are write-once and
content-addressed; the alias moves only after they exist).

The cache is bounded: loaded models are kept while their artifacts' bytes add up to ``max_bytes`` at most, and
the least recently served is dropped first (with the versions and routes that hold it), so an instance serving
many models does not grow without bound. A model larger than the bound alone is still served, and kept alone.
"""

from __future__ import annotations

import math
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlops.data import dataset, typed_table
from mlops.data.dataset import Schema
from mlops.errors import (
    ArtifactIntegrityError,
    ArtifactMissing,
    InvalidStepInput,
    LibraryVersionMismatch,
    ModelNotFound,
    SmokeTestFailed,
)
from mlops.records.registry import (
    DEPLOYABLE_STATUSES,
    PRODUCTION,
    SERVING_RUNTIMES,
    VERSION_REJECTED,
    VersionRecord,
)
from mlops.records.steps import validated_schema
from mlops.registry import documents
from mlops.registry.store import ModelRegistry
from mlops.serving.fallback import FallbackFailed, SklearnFunctionModel
from mlops.serving.runtime import ModelNotServable, OnnxModel, SklearnModel, holdout_columns, parity_report
from mlops.serving.validation import InvalidInstances, validate_instances
from mlops.storage import objects
from mlops.storage.objects import S3Uri

RUNTIMES = SERVING_RUNTIMES
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
ServedModel = OnnxModel | SklearnModel | SklearnFunctionModel


class VersionNotDeployable(ModelNotServable):
    """An alias points at a version that may not serve (Abandoned, ApprovalExpired, PendingApproval, Rejected): the
    predict path refuses it (503) rather than serve it, however it came to be there (a failed run abandoned it)."""


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

    def digests(self) -> set[str]:
        return {self.production.artifact_sha256} | ({self.canary.artifact_sha256} if self.canary else set())

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
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f"serving runtime must be one of {RUNTIMES}, not {runtime!r}")
        if max_bytes < 1:
            raise ValueError(f"the model cache needs a positive size in bytes, not {max_bytes}")
        self.registry = registry
        self.runtime = runtime
        self.refresh_s = refresh_s
        self.artifacts_bucket = artifacts_bucket
        self.clock = clock
        self.sklearn_function = sklearn_function
        self.max_bytes = max_bytes
        # artifact sha256 -> (loaded model, artifact bytes), the least recently served first
        self._models: OrderedDict[str, tuple[ServedModel, int]] = OrderedDict()
        self.cached_bytes = 0
        self._routes: dict[tuple[str, str], Routing] = {}  # (model name, alias) -> its routing
        self._versions: dict[tuple[str, int], LoadedVersion] = {}
        self.loads = 0  # artifacts fetched and verified (tests and metrics read it)
        self.evictions = 0  # models dropped to stay within max_bytes

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

    def load_version(self, model_name: str, version: int, record: VersionRecord | None = None) -> LoadedVersion:
        # A version's artifact and schema never change once registered: resolve each version once.
        known = self._versions.get((model_name, version))
        if known is not None:
            return known
        record = record or self.registry.get_version(model_name, version)
        if record.status == VERSION_REJECTED:
            raise ModelNotServable(f"{model_name} v{version} was rejected by its gate")
        uri, digest = self._artifact_of(record)
        schema = Schema.from_dict(documents.schema_of(record))
        if self.runtime == "onnx" and record.serving.served_by == "sklearn":
            # Not loaded here: the scikit-learn function verifies and loads the artifact itself.
            model: ServedModel = self._hand_over(record, schema)
        else:
            cached = self._models.get(digest)
            if cached is None:
                model, size_bytes = self._load(record, uri, digest, schema)
                self.loads += 1
            else:
                model, size_bytes = cached
        loaded = LoadedVersion(model_name, version, schema, model, digest)
        self._versions[(model_name, version)] = loaded
        if not isinstance(model, SklearnFunctionModel):
            self._admit(digest, model, size_bytes)
        return loaded

    def _load(self, record: VersionRecord, uri: str, digest: str, schema: Schema) -> tuple[ServedModel, int]:
        # Artifacts come only from the registry's bucket, and only after their digest matches the record.
        if S3Uri.parse(uri).bucket != self.artifacts_bucket:
            raise ArtifactIntegrityError(f"{uri} is outside the registry's bucket {self.artifacts_bucket}")
        if self.runtime == "onnx":
            payload = _verified_bytes(uri, digest)
            return OnnxModel(payload, schema), len(payload)
        import sklearn  # noqa: PLC0415 - the fallback runtime only

        trained_with = record.sklearn_version
        if trained_with != sklearn.__version__:
            raise LibraryVersionMismatch(
                f"{record.model_name} v{record.version} was trained with scikit-learn {trained_with}; "
                f"this runtime has {sklearn.__version__}"
            )
        payload = _verified_bytes(uri, digest)
        return SklearnModel(payload, schema), len(payload)

    # ---- the bound: least recently served first, by artifact bytes ------------------------------------------
    def _admit(self, digest: str, model: ServedModel, size_bytes: int) -> None:
        """Mark the model as just served (adding it if new), then drop the least recently served models until
        the cache is within max_bytes again; the model just admitted is never dropped."""
        if digest in self._models:
            self._models.move_to_end(digest)
            return
        self._models[digest] = (model, size_bytes)
        self.cached_bytes += size_bytes
        while self.cached_bytes > self.max_bytes and len(self._models) > 1:
            oldest = next(iter(self._models))
            self._evict(oldest)

    def _evict(self, digest: str) -> None:
        _, size_bytes = self._models.pop(digest)
        self.cached_bytes -= size_bytes
        self.evictions += 1
        # Nothing may keep the dropped model alive: versions and routes that hold it are resolved again on use.
        for key in [key for key, loaded in self._versions.items() if loaded.artifact_sha256 == digest]:
            del self._versions[key]
        for route_key in [route_key for route_key, route in self._routes.items() if digest in route.digests()]:
            del self._routes[route_key]

    def cached_digests(self) -> list[str]:
        """The artifacts held, the least recently served first."""
        return list(self._models)

    def routing(self, model_name: str, alias_name: str = PRODUCTION) -> Routing:
        """What serves ``alias_name`` of the model (production by default), re-read at most every refresh_s."""
        now = self.clock()
        route_key = (model_name, alias_name)
        cached = self._routes.get(route_key)
        if cached is not None and now - cached.resolved_at < self.refresh_s:
            return cached
        alias = self.registry.get_alias(model_name, alias_name)
        if alias is None:
            raise ModelNotFound(f"model {model_name!r} has no {alias_name} version")
        production = self._servable(model_name, alias.version, alias_name)
        canary = None
        if alias.canary_version:
            try:
                canary = self._servable(model_name, alias.canary_version, alias_name)
            except VersionNotDeployable:
                canary = None  # a canary that may no longer serve takes no requests; production takes them all
        routing = Routing(production, canary, float(alias.canary_weight or 0.0), now)
        held = (
            isinstance(loaded.model, SklearnFunctionModel) or loaded.artifact_sha256 in self._models
            for loaded in (production, canary)
            if loaded is not None
        )
        if all(held):  # not when loading the canary dropped production (a bound smaller than both)
            self._routes[route_key] = routing
        return routing

    def _servable(self, model_name: str, version: int, alias_name: str) -> LoadedVersion:
        """The version, loaded, if it may serve now: its status is read each time the alias is (a status changes
        after the alias moved, e.g. a failed run abandons its version); its artifact is loaded once."""
        record = self.registry.get_version(model_name, version)
        if record.status not in DEPLOYABLE_STATUSES:
            raise VersionNotDeployable(
                f"{alias_name} of {model_name} points at v{version}, but v{version} is {record.status}: it may not "
                "serve; deploy or roll back to a deployable version"
            )
        return self.load_version(model_name, version, record)

    def choose(
        self, model_name: str, draw: Callable[[], float] = random.random, alias: str = PRODUCTION
    ) -> LoadedVersion:
        chosen = self.routing(model_name, alias).choose(draw())
        if chosen.artifact_sha256 in self._models:
            self._models.move_to_end(chosen.artifact_sha256)  # served now: the last to be dropped
        return chosen


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
    table = typed_table.from_npz(objects.get_bytes(S3Uri.parse(test_uri)))
    columns = holdout_columns(dataset.feature_matrix(table, schema), schema)
    import onnxruntime  # noqa: PLC0415 - already imported by OnnxModel; only its version is read here

    report = parity_report(model, columns, objects.get_json(S3Uri.parse(reference_uri)))
    return {**report, "libraries": {"onnxruntime": onnxruntime.__version__}}


def score_holdout(cache: ModelCache, model_name: str, version: int, test_uri: str) -> dict[str, Any]:
    """A version's outputs on a holdout split (Prepare's typed .npz table), by the serving runtime (its ONNX copy
    under ``onnx``), encoded with the version's own schema. The gate uses it for a champion that the training
    steps' scikit-learn cannot load."""
    loaded = cache.load_version(model_name, version)
    table = typed_table.from_npz(objects.get_bytes(S3Uri.parse(test_uri)))
    predicted = loaded.model.predict(holdout_columns(dataset.feature_matrix(table, loaded.schema), loaded.schema))
    return {
        "model_name": model_name,
        "version": version,
        "runtime": loaded.model.runtime,
        "labels": predicted.labels,
        "probabilities": predicted.probabilities,
        "classes": predicted.classes,
    }
