"""The production champion as this run's holdout can measure it, for the Evaluate step's gate.

The champion is measured on the challenger's own holdout rows when it can be: loaded by this scikit-learn, with the
holdout encoded by its own schema. A champion trained for another problem (task, target, features, classes) is not
compared. One trained with another scikit-learn (the pins were upgraded since) cannot be unpickled here: it is
measured through its ONNX copy by the predict function, or, if it has none, compared by the metrics it was
registered with (noted in the gate's reasons), so an upgrade never rejects every challenger (docs/deploy.md#upgrades).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mlops.data import dataset
from mlops.errors import ArtifactIntegrityError, LibraryVersionMismatch
from mlops.records.events import ScoreHoldoutEvent
from mlops.records.registry import PRODUCTION, VersionRecord
from mlops.records.steps import PreparedDataset
from mlops.registry import documents
from mlops.registry.store import ModelRegistry
from mlops.storage import clients, objects
from mlops.storage.objects import S3Uri
from mlops.training.run_files import load_table


@dataclass(frozen=True)
class Champion:
    """The production version, and how (or why not) it is measured on this holdout."""

    version: int
    recorded_metrics: dict[str, float]
    problem: str | None = None  # why it is not compared: another problem, or an artifact that fails its sha256
    compared_by: str | None = None  # "scikit-learn", "onnx" (its ONNX copy, run by the predict function), "recorded"
    note: str | None = None  # for the gate's reasons, when it is not measured by scikit-learn
    model: Any = None  # what scoring.score reads: the champion's pipeline, or the outputs its ONNX copy served
    features: Any = None  # the holdout as the champion's own schema encodes it


def production_champion(
    registry: ModelRegistry,
    model_name: str,
    prepared: PreparedDataset,
    schema: dataset.Schema,
    test_x: np.ndarray | None,
    *,
    predict_function: str | None,
) -> Champion | None:
    """The model's production version, ready to be scored on the holdout (None when there is none)."""
    alias = registry.get_alias(model_name, PRODUCTION)
    if alias is None:
        return None
    record = registry.get_version(model_name, alias.version)
    champion_schema = dataset.Schema.from_dict(documents.schema_of(record))
    champion = Champion(version=alias.version, recorded_metrics=record.metrics)
    problem = same_problem(champion_schema, schema)
    if problem is not None:
        return replace(champion, problem=problem)
    try:
        model = objects.load_model(S3Uri.parse(record.artifact_uri), record.artifact_sha256, record.sklearn_version)
        features = _champion_matrix(prepared, champion_schema, schema, test_x)
    except LibraryVersionMismatch as exc:
        return _after_upgrade(champion, record, prepared, predict_function=predict_function, problem=str(exc))
    except ArtifactIntegrityError as exc:
        return replace(champion, problem=str(exc))
    return replace(champion, compared_by="scikit-learn", model=model, features=features)


def same_problem(champion_schema: dataset.Schema, schema: dataset.Schema) -> str | None:
    """Why the champion cannot be compared with this run's models (None when it can)."""
    if champion_schema.task != schema.task or champion_schema.target != schema.target:
        return "it was trained for another task or target"
    if _model_inputs(champion_schema) != _model_inputs(schema):
        return "its features differ from this dataset's"
    if champion_schema.classes != schema.classes:
        return "its classes differ from this dataset's"
    return None


def _model_inputs(schema: dataset.Schema) -> list[tuple[str, str, str | None, str | None]]:
    """What a model takes, whatever the data-dependent details (kept categories, datetime epoch) of its schema."""
    return [(f.name, f.kind, f.source, f.part) for f in schema.features]


def _champion_matrix(
    prepared: PreparedDataset, champion_schema: dataset.Schema, schema: dataset.Schema, test_x: np.ndarray | None
) -> np.ndarray:
    """The holdout as the champion's own schema encodes it (its kept categories, its datetime epoch); ``test_x``,
    the run's own object matrix, if the schemas agree and the caller built it."""
    if test_x is not None and champion_schema.features == schema.features and champion_schema.columns == schema.columns:
        return test_x
    return dataset.feature_matrix(load_table(prepared.splits.test), champion_schema)


class _ServedOutputs:
    """A champion's outputs on the holdout as the serving runtime returned them, shaped as ``scoring.score``
    reads a model (it ignores the features: the outputs are for exactly this holdout's rows)."""

    def __init__(self, scored: dict[str, Any]) -> None:
        self.labels = np.asarray(scored["labels"], dtype=object if scored.get("classes") else float)
        self.probabilities = np.asarray(scored["probabilities"]) if scored.get("probabilities") is not None else None
        self.classes_ = np.asarray(scored.get("classes") or [], dtype=object)

    def predict(self, _features: Any) -> np.ndarray:
        return self.labels

    def predict_proba(self, _features: Any) -> np.ndarray:
        return self.probabilities


def _after_upgrade(
    champion: Champion, record: VersionRecord, prepared: PreparedDataset, *, predict_function: str | None, problem: str
) -> Champion:
    """A champion this scikit-learn cannot load: its ONNX copy's outputs on this holdout, or its recorded metrics."""
    why_not_onnx = "it has no ONNX copy" if not record.serving.onnx_uri else "no predict function to run its ONNX copy"
    if record.serving.onnx_uri and predict_function:
        scored = _score_holdout(predict_function, record, prepared)
        if scored.get("runtime") == "onnx":
            return replace(
                champion,
                compared_by="onnx",
                note=f"champion v{record.version} measured on this holdout through its ONNX copy ({problem})",
                model=_ServedOutputs(scored),
            )
        why_not_onnx = f"the predict function could not run its ONNX copy ({scored.get('errorType', 'not onnx')})"
    return replace(
        champion,
        compared_by="recorded",
        note=f"champion v{record.version} compared by its registered metrics, measured on its own holdout: "
        f"{problem}; {why_not_onnx}",
    )  # no per-row outputs on this holdout: no paired bootstrap


def _score_holdout(predict_function: str, record: VersionRecord, prepared: PreparedDataset) -> dict[str, Any]:
    """The predict function's answer to ``score_holdout`` for this version on this run's test split ({} with the
    error type when it failed)."""
    response = clients.client("lambda").invoke(
        FunctionName=predict_function,
        Payload=ScoreHoldoutEvent(
            step="score_holdout",
            model_name=record.model_name,
            version=record.version,
            test_uri=prepared.splits.test,
        )
        .model_dump_json()
        .encode(),
    )
    scored = json.loads(response["Payload"].read() or b"{}")
    if response.get("FunctionError"):
        return {"errorType": scored.get("errorType", "not onnx")}
    return scored
