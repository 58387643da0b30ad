"""A caller's own model (bring your own model): skops bytes checked against an allow-list of types, then loaded.

A caller's bytes are never unpickled. skops stores an object graph as JSON (``schema.json`` in a zip) and rebuilds
only the types it is told to trust. Every type the file names is collected from that schema here, and the file is
refused (``UntrustedModelType``, the type named) unless all of them are in ``ALLOWED_TYPES``: scikit-learn's own
estimators and transformers (``sklearn.utils.all_estimators()``), without ``FunctionTransformer``, which calls
any function, and the handful of numpy, scipy and scikit-learn internal types a fitted estimator holds. Only then
does ``skops.io.loads`` run, with that explicit list as ``trusted`` (and skops's own ``get_untrusted_types`` must
name nothing outside it either).

The platform then stores the loaded model as its own candidate artifact; from there it goes every trained
candidate's way (Evaluate, the gate, Convert, Register, approval, smoke test, rollout).
"""

from __future__ import annotations

import io
import json
import zipfile
from functools import cache
from importlib.metadata import version
from typing import Any

import numpy as np

from mlops.data.dataset import Schema
from mlops.errors import ArtifactIntegrityError, InvalidTrainingRequest, LibraryVersionMismatch, UntrustedModelType
from mlops.storage import layout, objects

EXTERNAL_ESTIMATOR = "external"  # the candidate name of a caller's model in the trial plan and the leaderboard
SKOPS_FORMAT = "skops"
MAX_ARTIFACT_BYTES = 200 * 1024 * 1024

# Refused even though scikit-learn ships them: they call a function the caller chooses.
REFUSED_ESTIMATORS = frozenset({"FunctionTransformer"})

# What a fitted scikit-learn model holds besides estimators: containers, arrays, numpy scalar types (as dtypes),
# sparse matrices, and the compiled internals of trees, boosting, neighbours and losses.
HELD_TYPES = frozenset(
    {
        "builtins.dict",
        "builtins.list",
        "builtins.tuple",
        "builtins.str",
        "builtins.int",
        "builtins.float",
        "builtins.bool",
        "builtins.slice",
        "builtins.NoneType",
        "builtins.object",
        "numpy.ndarray",
        "numpy.dtype",
        *(f"numpy.{name}" for name in ("float16", "float32", "float64", "int8", "int16", "int32", "int64")),
        *(f"numpy.{name}" for name in ("uint8", "uint16", "uint32", "uint64", "bool", "bool_", "str_", "object_")),
        "numpy.random.mtrand.RandomState",
        "numpy.random._mt19937.MT19937",
        "scipy.sparse._csr.csr_matrix",
        "scipy.sparse._csc.csc_matrix",
        "scipy.sparse._csr.csr_array",
        "scipy.sparse._csc.csc_array",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.MultinomialLogit",
        "sklearn._loss.link.Interval",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn._loss.loss.AbsoluteError",
        "sklearn._loss._loss.CyHalfBinomialLoss",
        "sklearn._loss._loss.CyHalfMultinomialLoss",
        "sklearn._loss._loss.CyHalfSquaredError",
        "sklearn._loss._loss.CyAbsoluteError",
        "sklearn.utils._bunch.Bunch",
    }
)


@cache
def allowed_types() -> frozenset[str]:
    """Every type a caller's model may hold: scikit-learn's estimators and transformers, and what they hold."""
    from sklearn.utils import all_estimators  # noqa: PLC0415 - scikit-learn's, in the ML layer

    estimators = {
        f"{cls.__module__}.{cls.__qualname__}" for name, cls in all_estimators() if name not in REFUSED_ESTIMATORS
    }
    return frozenset(estimators | HELD_TYPES)


def artifact_types(payload: bytes) -> set[str]:
    """Every ``module.class`` a skops file names (objects, types and functions alike), read from its schema alone:
    nothing is built. Bytes that are not a skops file are refused as an untrusted artifact."""
    schema = _schema(payload)
    return {f"{node.get('__module__')}.{node.get('__class__')}" for node in _nodes(schema) if _names_a_type(node)}


def _schema(payload: bytes) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            return json.loads(archive.read(layout.SKOPS_SCHEMA_MEMBER))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UntrustedModelType(f"the artifact is not a skops file (no readable object schema): {exc}") from exc


def _nodes(schema: Any) -> list[dict[str, Any]]:
    """Every JSON object of the schema, depth first (a loop, not recursion: a deep file cannot exhaust the stack)."""
    found: list[dict[str, Any]] = []
    pending: list[Any] = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            found.append(node)
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def _names_a_type(node: dict[str, Any]) -> bool:
    return "__class__" in node or "__module__" in node


def _json_value(node: dict[str, Any]) -> str:
    """A JsonNode's value (its content is JSON text when ``is_json``)."""
    if not node.get("is_json"):
        return str(node["content"])
    try:
        return str(json.loads(node["content"]))
    except ValueError as exc:
        raise UntrustedModelType(f"the artifact's schema holds a malformed value: {exc}") from exc


def recorded_sklearn_versions(payload: bytes) -> set[str]:
    """The scikit-learn versions the file's estimators were saved by (each estimator's state records one)."""
    versions = set()
    for node in _nodes(_schema(payload)):
        state = node.get("content") if node.get("__loader__") == "DictNode" else None
        recorded = state.get("_sklearn_version") if isinstance(state, dict) else None
        if isinstance(recorded, dict) and isinstance(recorded.get("content"), str):
            versions.add(_json_value(recorded))
    return versions


def check_types(payload: bytes) -> list[str]:
    """The artifact's types, all allowed; UntrustedModelType naming the first ones that are not."""
    import skops.io  # noqa: PLC0415 - imported by the steps that load a caller's model only

    allowed = allowed_types()
    named = artifact_types(payload)
    untrusted = sorted((named | set(skops.io.get_untrusted_types(data=payload))) - allowed)
    if untrusted:
        raise UntrustedModelType(
            f"the model artifact holds type(s) outside the allow-list of scikit-learn classes: {', '.join(untrusted)}"
        )
    return sorted(named)


def load(payload: bytes, expected_sha256: str) -> Any:
    """The caller's model, if its bytes hash to the sha256 it declared and hold only allowed types."""
    import skops.io  # noqa: PLC0415 - imported by the steps that load a caller's model only

    verify_digest(payload, expected_sha256)
    types = check_types(payload)
    _check_sklearn_version(payload)
    return skops.io.loads(payload, trusted=types)


def verify_digest(payload: bytes, expected_sha256: str) -> None:
    if len(payload) > MAX_ARTIFACT_BYTES:
        raise InvalidTrainingRequest(f"the model artifact is {len(payload)} bytes; at most {MAX_ARTIFACT_BYTES}")
    digest = objects.sha256_hex(payload)
    if digest != expected_sha256:
        raise ArtifactIntegrityError(f"the model artifact's sha256 is {digest}, not the declared {expected_sha256}")


def fetch(artifact_uri: str, expected_sha256: str) -> Any:
    """Read, verify and load a caller's model from S3 (the steps' entry point)."""
    return load(objects.get_bytes(objects.S3Uri.parse(artifact_uri)), expected_sha256)


def _check_sklearn_version(payload: bytes) -> None:
    """Each estimator's saved state names the scikit-learn that fitted it; another one may answer differently."""
    running = version("scikit-learn")
    others = sorted(recorded_sklearn_versions(payload) - {running})
    if others:
        raise LibraryVersionMismatch(
            f"the model was fitted with scikit-learn {', '.join(others)}; the platform runs {running}"
        )


def declared_libraries(payload: bytes) -> dict[str, str]:
    """The library versions the artifact says made it: skops and its protocol (the schema), scikit-learn (the
    estimators' saved state)."""
    schema = _schema(payload)
    declared = {"skops": str(schema.get("_skops_version", "unknown")), "skops_protocol": str(schema.get("protocol"))}
    sklearn_versions = recorded_sklearn_versions(payload)
    declared["scikit-learn"] = ", ".join(sorted(sklearn_versions)) or "unknown"
    return declared


def check_features(model: Any, schema: Schema) -> None:
    """The model takes the platform's feature matrix: the holdout's feature columns, in the schema's order.
    InvalidTrainingRequest if its ``feature_names_in_`` (or its width) say otherwise."""
    features = [feature.name for feature in schema.features]
    names = getattr(model, "feature_names_in_", None)
    if names is not None and [str(n) for n in np.asarray(names).tolist()] != features:
        raise InvalidTrainingRequest(
            f"the model was fitted on the columns {[str(n) for n in names]}; the dataset's features are {features} "
            "(same names, same order)"
        )
    width = getattr(model, "n_features_in_", None)
    if width is not None and width != len(features):
        raise InvalidTrainingRequest(f"the model takes {width} features; the dataset has {len(features)}: {features}")
    if not hasattr(model, "predict"):
        raise InvalidTrainingRequest(f"the artifact holds a {type(model).__name__}, which cannot predict")
