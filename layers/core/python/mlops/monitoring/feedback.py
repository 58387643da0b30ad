"""Ground truth: labels posted to the admin API for served predictions (keyed by ``inference_id``), validated
against the production version, stored as JSON lines under ``feedback/<model>/dt=<day>/`` and read back by a check.
No numpy (the admin API imports this)."""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from mlops.errors import InvalidFeedback, ModelNotFound
from mlops.monitoring.capture_records import records_of
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


# What the predict route and a batch job issue: the request (or job) id and the row's position in it.
INFERENCE_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}:[0-9]{1,19}")
# How far back the capture is searched for the inference ids a label names (the longest feedback training window).
SERVED_LOOKBACK_S = 90 * 24 * 3600


def unserved(bucket: str, model_name: str, inference_ids: set[str], *, now: float) -> set[str]:
    """Of ``inference_ids``, those this model's capture (the predict route's and succeeded batch jobs') does not hold
    within the lookback: labels for them could join nothing, so they are refused rather than stored."""
    missing = set(inference_ids)
    for key in partition_keys(bucket, layout.capture_prefix(model_name), now - SERVED_LOOKBACK_S, now):
        for document in json_lines(bucket, key):
            if document.get("capture") == layout.CAPTURE_MARKER:
                missing.difference_update(record.get("inference_id") for record in records_of(document))
        if not missing:
            break
    return missing


def store_feedback(
    bucket: str, model_name: str, labels: list[dict[str, Any]], *, actor: str, now: float | None = None
) -> str:
    """Write received labels as one JSON-lines object under feedback/<model>/dt=<day>/ (the check joins them). Each
    line names who labelled it (``labelled_by``); when one inference id is labelled twice, the latest label wins
    (``read_labels``), and each line says so (``rule``), so rows trained from feedback keep who labelled them."""
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
                "labelled_by": actor,
                "rule": "latest label of an inference id wins",
            },
            allow_nan=False,
        )
        for item in labels
    ]
    uri = layout.feedback_object(bucket, model_name, day, f"{int(now * 1000)}-{uuid.uuid4().hex[:12]}")
    objects.put_bytes(uri, ("\n".join(lines) + "\n").encode(), "application/x-ndjson")
    return str(uri)


def read_label_lines(bucket: str, model_name: str, start: float, end: float) -> dict[str, dict[str, Any]]:
    """inference_id -> the label line that won (the latest received): its label, who labelled it, when."""
    lines: dict[str, dict[str, Any]] = {}
    for key in partition_keys(bucket, layout.feedback_prefix(model_name), start, end):
        for document in json_lines(bucket, key):
            if document.get("feedback") == layout.FEEDBACK_MARKER and isinstance(document.get("inference_id"), str):
                earlier = lines.get(document["inference_id"])
                if earlier is None or str(document.get("received_at", "")) >= str(earlier.get("received_at", "")):
                    lines[document["inference_id"]] = document
    return lines


def read_labels(bucket: str, model_name: str, start: float, end: float) -> dict[str, Any]:
    """inference_id -> actual label, from feedback received in [start, end] (the latest label wins)."""
    return {key: line.get("label") for key, line in read_label_lines(bucket, model_name, start, end).items()}


def accept_feedback(
    registry: ModelRegistry,
    bucket: str,
    model_name: str,
    labels: list[dict[str, Any]],
    *,
    actor: str,
    now: float | None = None,
) -> dict[str, Any]:
    """Validate ground-truth labels against the production version's task and classes and their inference ids
    against the ids the endpoint and batch jobs issue and this model's capture holds, then store them, with who sent
    them and an audit event (``FeedbackReceived``)."""
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
        if not isinstance(item["inference_id"], str) or not INFERENCE_ID_PATTERN.fullmatch(item["inference_id"]):
            raise InvalidFeedback(
                f"labels[{position}]: {item['inference_id']!r} is not an inference id the predict route or a batch job "
                "answered (<request or job id>:<row>)"
            )
        normalised.append({"inference_id": item["inference_id"], "label": value})
    missing = unserved(bucket, model_name, {item["inference_id"] for item in normalised}, now=time.time())
    if missing:
        named = sorted(missing)
        raise InvalidFeedback(
            f"{len(named)} inference id(s) {model_name} has not served (none in its capture; a prediction is "
            f"captured within a minute of its answer, a batch job's rows when the job succeeds): {', '.join(named[:5])}"
            + (" ..." if len(named) > 5 else "")
        )
    uri = store_feedback(bucket, model_name, normalised, actor=actor, now=now)
    registry.record_event(
        model_name,
        "FeedbackReceived",
        actor=actor,
        reason=f"{len(normalised)} ground-truth label(s) for version {alias.version}'s predictions",
        after={"labels": len(normalised), "uri": uri, "version": alias.version},
    )
    return {"model_name": model_name, "accepted": len(normalised), "uri": uri}
