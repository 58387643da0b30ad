"""The shape of one inference capture line (``capture/<model>/dt=<day>/``, marked ``layout.CAPTURE_MARKER``): how the
endpoint and batch scoring write it and how the drift check, feedback rows and shadow replay read it back.

Two layouts of the same records. A row request is captured as it came, a record per row:
    {"capture", "model_name", "version", "alias", "timestamp",
     "records": [{"inference_id", "version", "prediction", "probabilities"?, "features": {name: value}}]}
A columnar request (or a batch block) is captured as columns, so the hot path builds no dict per row:
    {"capture", "model_name", "version", "alias", "timestamp",
     "inference_ids": [...], "predictions": [...], "probabilities"?: {class: [...]}, "features": {name: [...]}}
A request of either kind whose body fits one log event is captured whole, its body embedded as it came (as
SageMaker's data capture keeps the payload), so the endpoint serializes no feature value twice:
    {..., "inference_ids": [...], "predictions": [...], "probabilities"?: {...},
     "request": {"instances": [{...}, ...]} or {"inputs": {name: [...]}}}
``records_of`` turns any of them into the per-row records; readers see only those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlops.storage import layout

ROWS_PER_LINE = 100  # keeps each captured log line far below CloudWatch Logs' 256 KB event limit
MAX_REQUEST_BYTES = 128 * 1024  # a body up to this size is captured whole: with the answers, still one log event


@dataclass(frozen=True)
class CapturedAnswer:
    """What every capture line of one answer repeats (who answered, when) and the answer's columns, a value per row:
    inference ids, predictions and, for a classifier, probabilities by class."""

    model_name: str
    version: int
    alias: str
    timestamp: float
    inference_ids: Sequence[str]
    predictions: Sequence[Any]
    probabilities: dict[str, Sequence[float]] | None

    def head(self) -> dict[str, Any]:
        return {
            "capture": layout.CAPTURE_MARKER,
            "model_name": self.model_name,
            "version": self.version,
            "alias": self.alias,
            "timestamp": self.timestamp,
        }

    def columns(self, start: int = 0, end: int | None = None) -> dict[str, Any]:
        """The head and the answer's columns for rows start..end."""
        document = {
            **self.head(),
            "inference_ids": self.inference_ids[start:end],
            "predictions": self.predictions[start:end],
        }
        if self.probabilities is not None:
            document["probabilities"] = {label: values[start:end] for label, values in self.probabilities.items()}
        return document


def row_documents(
    answer: CapturedAnswer, *, rows: Sequence[dict[str, Any]], instances: Sequence[Any]
) -> list[dict[str, Any]]:
    """Capture documents of a row request: each answer with the row it answered, ROWS_PER_LINE rows to a document."""
    return [
        {
            **answer.head(),
            "records": [
                {**row, "features": features}
                for row, features in zip(
                    rows[start : start + ROWS_PER_LINE], instances[start : start + ROWS_PER_LINE], strict=True
                )
            ],
        }
        for start in range(0, len(rows), ROWS_PER_LINE)
    ]


def column_documents(answer: CapturedAnswer, features: dict[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Capture documents of columns (every sequence one value per row, in the answer's order), ROWS_PER_LINE rows to
    a document."""
    return [
        {
            **answer.columns(start, start + ROWS_PER_LINE),
            "features": {name: values[start : start + ROWS_PER_LINE] for name, values in features.items()},
        }
        for start in range(0, len(answer.inference_ids), ROWS_PER_LINE)
    ]


def request_document(answer: CapturedAnswer, request: Any) -> dict[str, Any]:
    """The capture document of a whole request: the answer's columns and the request body (a JSON object with
    ``instances`` or ``inputs``; the caller may pass it pre-serialized)."""
    return {**answer.columns(), "request": request}


def _request_features(request: dict[str, Any], rows: int) -> list[dict[str, Any]] | None:
    """Each row's features from a captured request body, or None when it does not hold ``rows`` rows."""
    instances = request.get("instances")
    if isinstance(instances, list) and len(instances) == rows and all(isinstance(row, dict) for row in instances):
        return instances
    inputs = request.get("inputs")
    if isinstance(inputs, dict) and all(isinstance(v, list) and len(v) == rows for v in inputs.values()):
        names = list(inputs)
        return [dict(zip(names, values, strict=True)) for values in zip(*inputs.values(), strict=True)]
    return None


def records_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-row records of a capture document of either layout ([] for a document of neither)."""
    records = document.get("records")
    if isinstance(records, list):
        return [record for record in records if isinstance(record, dict)]
    ids, predictions = document.get("inference_ids"), document.get("predictions")
    if not isinstance(ids, list) or not isinstance(predictions, list):
        return []
    rows = len(ids)
    features, request = document.get("features"), document.get("request")
    if isinstance(features, dict):
        columns = {
            name: values for name, values in features.items() if isinstance(values, list) and len(values) == rows
        }
        by_row = [{name: values[row] for name, values in columns.items()} for row in range(rows)]
    elif isinstance(request, dict):
        by_row = _request_features(request, rows) or [{} for _ in range(rows)]
    else:
        return []
    probabilities = document.get("probabilities")
    by_class = (
        {label: values for label, values in probabilities.items() if isinstance(values, list) and len(values) == rows}
        if isinstance(probabilities, dict)
        else None
    )
    version = document.get("version")
    expanded = []
    for row, (inference_id, prediction) in enumerate(zip(ids, predictions, strict=False)):
        record: dict[str, Any] = {"inference_id": inference_id, "version": version, "prediction": prediction}
        if by_class:
            record["probabilities"] = {label: values[row] for label, values in by_class.items()}
        record["features"] = by_row[row]
        expanded.append(record)
    return expanded
