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

from importlib.metadata import version
from typing import Any

import numpy as np

from mlops.data.dataset import Schema
from mlops.errors import ArtifactIntegrityError, InvalidTrainingRequest, LibraryVersionMismatch
from mlops.records.request import EXTERNAL_CANDIDATE
from mlops.storage import objects
from mlops.training import model_types

EXTERNAL_ESTIMATOR = EXTERNAL_CANDIDATE
SKOPS_FORMAT = "skops"
MAX_ARTIFACT_BYTES = model_types.MAX_ARTIFACT_BYTES


def check_types(payload: bytes) -> list[str]:
    """The artifact's types, all allowed; UntrustedModelType naming every one that is not."""
    import skops.io  # noqa: PLC0415 - imported by the steps that load a caller's model only

    return model_types.refuse_untrusted(payload, set(skops.io.get_untrusted_types(data=payload)))


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
    others = sorted(model_types.recorded_sklearn_versions(payload) - {running})
    if others:
        raise LibraryVersionMismatch(
            f"the model was fitted with scikit-learn {', '.join(others)}; the platform runs {running}"
        )


def declared_libraries(payload: bytes) -> dict[str, str]:
    """The library versions the artifact says made it: skops and its protocol (the schema), scikit-learn (the
    estimators' saved state)."""
    schema = model_types.object_schema(payload)
    declared = {"skops": str(schema.get("_skops_version", "unknown")), "skops_protocol": str(schema.get("protocol"))}
    sklearn_versions = model_types.recorded_sklearn_versions(payload)
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


def align_labels(model: Any, schema: Schema) -> Any:
    """A classifier's labels as the platform reads them: text. A model fitted on labels read as numbers (``0``/``1``
    from ``pandas.read_csv``) predicts numbers, which the holdout's text labels would never equal; its classes are
    recast to the same labels as text (the model is unchanged otherwise). InvalidTrainingRequest when its classes are
    not the dataset's."""
    if schema.task != "classification":
        return model
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    classes = getattr(final, "classes_", None)
    if classes is None:
        raise InvalidTrainingRequest(f"the {type(final).__name__} has no classes_: is it a fitted classifier?")
    as_text = [str(c) for c in np.asarray(classes).tolist()]
    if sorted(as_text) != sorted(schema.classes or []):
        raise InvalidTrainingRequest(f"the model's classes are {as_text}; the dataset's are {schema.classes}")
    if np.asarray(classes).dtype.kind not in "OUS":
        text_classes = np.asarray(as_text, dtype=object)
        if hasattr(final, "_le") and hasattr(final, "_classes"):  # LightGBM: classes_ is a read-only property of
            final._le.classes_ = text_classes  # its label encoder's classes, which predict decodes with
            final._classes = text_classes
            final._class_map = dict(zip(as_text, final._class_map.values(), strict=True))
        else:
            final.classes_ = text_classes
    return model
