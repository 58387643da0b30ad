"""Feedback becomes training data: a training request with ``feedback`` trains on its dataset plus the model's
captured predictions whose ground truth was posted to ``/feedback``.

1. ``collect``: the labels received in the window (``feedback/<model>/dt=.../``; the latest label of an inference id
   wins, and the row keeps who sent it) joined to the captured requests (``capture/<model>/dt=.../``) by
   ``inference_id``. A capture record seen twice (Firehose delivers at least once) counts once; the newest
   ``max_rows`` are kept.
2. ``write_dataset``: the original CSV with the labelled rows appended in time order (oldest first), one row per
   inference id, written as a dataset object of its own (``datasets/feedback/<model>/<run id>.csv``), so the version's
   lineage names data that can be read back and hashed; a manifest beside it lists which captures gave which rows
   and who labelled each (the lineage counts the rows per labeller).
3. ``place_in_splits``: Prepare's seeded, stratified split is made over the whole table; then the labelled rows are
   taken out of it and placed by time: the newest ``holdout_share`` go to the test split — the holdout on which
   Evaluate scores the challenger *and* the champion, so the gate compares them on recent traffic as well as on the
   original holdout — and the rest to the training split, each ``weight`` times. Rows never straddle splits, so no
   labelled row is trained on and tested on.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlops.errors import InvalidDataset, InvalidTrainingRequest
from mlops.monitoring.capture_records import records_of
from mlops.monitoring.feedback import read_label_lines
from mlops.monitoring.partitions import iso_seconds, json_lines, partition_keys
from mlops.records.request import FeedbackRows
from mlops.storage import layout, objects
from mlops.storage.objects import S3Uri

MANIFEST_CAPTURES_LISTED = 200  # capture objects named in the lineage (the manifest in S3 lists every one)
LABELLERS_LISTED = 20


@dataclass(frozen=True)
class LabelledRow:
    inference_id: str
    timestamp: float
    features: dict[str, Any]
    label: Any
    capture_key: str
    labelled_by: str = "unknown"  # the winning label's sender (its line's labelled_by)
    labelled_at: str = ""


@dataclass
class Collected:
    rows: list[LabelledRow] = field(default_factory=list)
    labels_received: int = 0
    duplicate_captures: int = 0  # capture records of an inference id already taken
    rows_over_limit: int = 0  # older labelled rows beyond max_rows


def collect(bucket: str, model_name: str, settings: FeedbackRows, *, now: float) -> Collected:
    """The captured requests that have a label received within the window, one per inference id, oldest first."""
    start = now - settings.window_hours * 3600
    lines = read_label_lines(bucket, model_name, start, now)
    labels = {inference_id: line.get("label") for inference_id, line in lines.items()}
    collected = Collected(labels_received=len(labels))
    if not labels:
        return collected
    by_id: dict[str, LabelledRow] = {}
    for key in partition_keys(bucket, layout.capture_prefix(model_name), start, now):
        for document in json_lines(bucket, key):
            if document.get("capture") != layout.CAPTURE_MARKER:
                continue
            timestamp = document.get("timestamp")
            if not isinstance(timestamp, int | float) or not start < timestamp <= now:
                continue
            for record in records_of(document):
                inference_id = record.get("inference_id")
                if not isinstance(inference_id, str) or labels.get(inference_id) is None:
                    continue
                if inference_id in by_id:
                    collected.duplicate_captures += 1
                    continue
                features = record.get("features") if isinstance(record.get("features"), dict) else {}
                line = lines[inference_id]
                by_id[inference_id] = LabelledRow(
                    inference_id, float(timestamp), features, labels[inference_id], key,
                    str(line.get("labelled_by") or "unknown"), str(line.get("received_at") or ""),
                )  # fmt: skip
    rows = sorted(by_id.values(), key=lambda row: (row.timestamp, row.inference_id))
    collected.rows_over_limit = max(0, len(rows) - settings.max_rows)
    collected.rows = rows[-settings.max_rows :] if rows else []
    return collected


def _csv_text(payload: bytes, uri: str) -> str:
    if payload[:2] == b"\x1f\x8b":
        payload = gzip.decompress(payload)
    if payload[:4] == b"PAR1":
        raise InvalidTrainingRequest(
            f"feedback rows are appended to a CSV dataset; {uri} is Parquet: export it as CSV or train without feedback"
        )
    try:
        return payload.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidDataset(f"{uri} is not UTF-8 text: {exc}") from exc


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    return str(value)


@dataclass(frozen=True)
class FeedbackDataset:
    uri: str
    manifest_uri: str
    original_rows_bytes: int
    labelled_rows: int
    summary: dict[str, Any]


def write_dataset(
    original_uri: str,
    target: str,
    collected: Collected,
    settings: FeedbackRows,
    *,
    bucket: str,
    model_name: str,
    run_id: str,
    now: float,
) -> FeedbackDataset:
    """The original CSV plus one row per labelled inference (oldest first), and its manifest, in S3."""
    original = objects.get_bytes(S3Uri.parse(original_uri))
    text = _csv_text(original, original_uri)
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
    if target not in header:
        raise InvalidDataset(f"target column {target!r} is not in the header of {original_uri}")
    buffer = io.StringIO(newline="")
    buffer.write(text if text.endswith("\n") or not text else text + "\n")
    writer = csv.writer(buffer, lineterminator="\n")
    for row in collected.rows:
        writer.writerow([_cell(row.label) if name == target else _cell(row.features.get(name)) for name in header])
    uri = layout.feedback_dataset(bucket, model_name, run_id)
    objects.put_bytes(uri, buffer.getvalue().encode(), "text/csv")
    captures = sorted({row.capture_key for row in collected.rows})
    window_start = now - settings.window_hours * 3600
    manifest = {
        "dataset_uri": str(uri),
        "original_uri": original_uri,
        "window": {"start": iso_seconds(window_start), "end": iso_seconds(now)},
        "settings": settings.model_dump(mode="json"),
        "rows": [
            {
                "inference_id": row.inference_id,
                "captured_at": iso_seconds(row.timestamp),
                "capture": row.capture_key,
                "labelled_by": row.labelled_by,
                "labelled_at": row.labelled_at,
                "rule": "latest label of an inference id wins",
            }
            for row in collected.rows
        ],
        "captures": captures,
    }
    manifest_uri = layout.feedback_dataset_manifest(bucket, model_name, run_id)
    objects.put_json(manifest_uri, manifest)
    summary = {
        "dataset_uri": str(uri),
        "manifest_uri": str(manifest_uri),
        "original_uri": original_uri,
        "window_start": iso_seconds(window_start),
        "window_end": iso_seconds(now),
        "window_hours": settings.window_hours,
        "weight": settings.weight,
        "holdout_share": settings.holdout_share,
        "labels_received": collected.labels_received,
        "labelled_rows": len(collected.rows),
        "duplicate_captures_dropped": collected.duplicate_captures,
        "rows_over_limit": collected.rows_over_limit,
        "capture_objects": len(captures),
        "captures": captures[:MANIFEST_CAPTURES_LISTED],
        # rows per labeller (the 20 with most; the manifest names every row's)
        "labelled_by": dict(Counter(row.labelled_by for row in collected.rows).most_common(LABELLERS_LISTED)),
    }
    return FeedbackDataset(str(uri), str(manifest_uri), len(original), len(collected.rows), summary)


def place_in_splits(
    split_rows: Mapping[str, np.ndarray], *, total_rows: int, labelled_rows: int, holdout_share: float, weight: int
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Take the labelled rows (the table's last ``labelled_rows``, oldest first) out of a split and place them by
    time: the newest ``holdout_share`` in test, the others in train ``weight`` times each."""
    first = total_rows - labelled_rows
    if labelled_rows == 0:
        return {name: np.asarray(rows) for name, rows in split_rows.items()}, {"test": 0, "train": 0}
    labelled = np.arange(first, total_rows)
    held = int(math.ceil(labelled_rows * holdout_share))
    to_test, to_train = labelled[labelled_rows - held :], labelled[: labelled_rows - held]
    placed = {name: np.asarray(rows)[np.asarray(rows) < first] for name, rows in split_rows.items()}
    placed["test"] = np.concatenate([placed["test"], to_test])
    placed["train"] = np.sort(np.concatenate([placed["train"], np.repeat(to_train, weight)]))
    return placed, {"test": int(held), "train": int(len(to_train))}
