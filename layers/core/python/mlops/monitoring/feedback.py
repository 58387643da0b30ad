"""Ground truth: labels posted to the admin API for served predictions (keyed by ``inference_id``), validated
against the production version, stored as JSON lines under ``feedback/<model>/dt=<day>/`` and read back by a check.
No numpy (the admin API imports this)."""

from __future__ import annotations

import json
import math
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from mlops.errors import InvalidFeedback, ModelNotFound
from mlops.monitoring.partitions import iso_seconds, json_lines, partition_keys
from mlops.monitoring.registry_view import PRODUCTION, ModelRegistry, schema_of
from mlops.storage import layout, objects


def class_label(value: Any) -> str:
    """Class labels as the dataset normalises them: integral numbers without a fraction."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def is_finite_number(value: Any) -> bool:
    try:
        return math.isfinite(float(value)) and not isinstance(value, bool)
    except (TypeError, ValueError):
        return False


def store_feedback(bucket: str, model_name: str, labels: list[dict[str, Any]], *, now: float | None = None) -> str:
    """Write received labels as one JSON-lines object under feedback/<model>/dt=<day>/ (the check joins them)."""
    now = time.time() if now is None else now
    day = datetime.fromtimestamp(now, UTC).date().isoformat()
    received_at = iso_seconds(now)
    lines = [
        json.dumps(
            {
                "feedback": layout.FEEDBACK_MARKER,
                "inference_id": item["inference_id"],
                "label": item["label"],
                "received_at": received_at,
            },
            allow_nan=False,
        )
        for item in labels
    ]
    uri = layout.feedback_object(bucket, model_name, day, f"{int(now * 1000)}-{uuid.uuid4().hex[:12]}")
    objects.put_bytes(uri, ("\n".join(lines) + "\n").encode(), "application/x-ndjson")
    return str(uri)


def read_labels(bucket: str, model_name: str, start: float, end: float) -> dict[str, Any]:
    """inference_id -> actual label, from feedback received in [start, end] (the latest label wins)."""
    labels: dict[str, Any] = {}
    for key in partition_keys(bucket, layout.feedback_prefix(model_name), start, end):
        for document in json_lines(bucket, key):
            if document.get("feedback") == layout.FEEDBACK_MARKER and isinstance(document.get("inference_id"), str):
                labels[document["inference_id"]] = document.get("label")
    return labels


def accept_feedback(
    registry: ModelRegistry, bucket: str, model_name: str, labels: list[dict[str, Any]], *, now: float | None = None
) -> dict[str, Any]:
    """Validate ground-truth labels against the production version's task and classes, then store them."""
    alias = registry.get_alias(model_name, PRODUCTION)
    if alias is None:
        raise ModelNotFound(f"model {model_name!r} has no production version to give feedback on")
    record = registry.get_version(model_name, alias.version)
    schema = schema_of(record)
    task = record.task
    normalised = []
    for position, item in enumerate(labels):
        value = item["label"]
        if task == "regression":
            if isinstance(value, bool) or not is_finite_number(value):
                raise InvalidFeedback(f"labels[{position}]: a regression label must be a finite number, not {value!r}")
            value = float(value)
        else:
            value = class_label(value)
            classes = schema.get("classes") or []
            if classes and value not in classes:
                raise InvalidFeedback(f"labels[{position}]: {value!r} is not a class of {model_name} ({classes})")
        normalised.append({"inference_id": item["inference_id"], "label": value})
    uri = store_feedback(bucket, model_name, normalised, now=now)
    return {"model_name": model_name, "accepted": len(normalised), "uri": uri}
