"""Reading the inference capture of a model (``capture/<model>/dt=<day>/``, JSON lines written by the endpoint
through Firehose, each line marked ``layout.CAPTURE_MARKER``): the records of one version inside a drift window go
to the windows in chunks through the one feeder, and the labelled ones are joined to their ground truth."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlops.data import columns as column_roles
from mlops.data import formats
from mlops.monitoring.capture_records import records_of
from mlops.monitoring.estimation import EstimateFeeder
from mlops.monitoring.partitions import json_lines, partition_keys
from mlops.monitoring.window import Window, WindowFeeder
from mlops.records.schema import Schema
from mlops.storage import layout

PREDICTION = "prediction"  # the name of the prediction's single feature in its reference


@dataclass
class CaptureScan:
    """What one pass over the capture produced."""

    rows: int = 0  # records of the production version inside the drift window
    other_versions: int = 0  # records in the window served by another version (canary, previous production)
    objects: int = 0
    joined: list[tuple[Any, Any]] = field(default_factory=list)  # (prediction, actual) within the performance window


RecordMapper = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def model_features(schema: Schema) -> RecordMapper | None:
    """What turns captured request records into the model's features as training saw them (and as the baseline
    holds them): datetime columns into their parts, categories outside the kept ones into OTHER_CATEGORY, columns
    the model ignores (identifiers, free text) dropped. None when the schema derives and pools nothing."""
    written = {
        f.name: schema.columns[f.name]["format"]
        for f in schema.features
        if f.kind == "numeric" and f.source is None and schema.columns.get(f.name, {}).get("format")
    }
    if not written and not any(f.source is not None or f.categories is not None for f in schema.features):
        return None
    ignored = {name for name, column in schema.columns.items() if column.get("role") not in (None, "feature")}
    sources = {f.source: schema.columns[f.source] for f in schema.features if f.source is not None}
    kept = {f.name: frozenset(f.categories) for f in schema.features if f.categories is not None}

    def mapped(record: dict[str, Any]) -> dict[str, Any]:
        row = {name: value for name, value in record.items() if name not in ignored and name not in sources}
        for name, value in row.items():
            if name in kept and isinstance(value, str) and value.strip():
                row[name] = column_roles.pool_category(value.strip(), kept[name], "")
            elif name in written and isinstance(value, str | bool):  # "$1,200", "12.5%", "yes": read as training did
                number = float(value) if isinstance(value, bool) else formats.parse_formatted(value, written[name])
                row[name] = None if number is None or number != number else number  # noqa: PLR0124 - NaN
        for source, column in sources.items():
            if source not in record:
                continue  # absent: the derived features are absent too (counted as such)
            value = record[source]
            moment = column_roles.parse_datetime(value, column.get("format")) if value is not None else None
            for part in column["parts"]:
                row[column_roles.derived_name(source, part)] = (
                    None if moment is None else column_roles.datetime_part(moment, part, column["epoch"])
                )
        return row

    return lambda records: [mapped(record) for record in records]


class CaptureBatcher:
    """Collects capture records into chunks and feeds each chunk's features (and predictions) to the windows;
    ``to_features`` maps the captured request records to the model's features first (see model_features);
    ``estimate`` (an ``EstimateFeeder``) also gets each chunk's records and features."""

    def __init__(
        self,
        window: Window,
        prediction_window: Window | None,
        chunk_rows: int,
        to_features: RecordMapper | None = None,
        estimate: EstimateFeeder | None = None,
    ) -> None:
        self.to_features = to_features
        self.estimate = estimate
        self.features = WindowFeeder(window)
        self.predictions = WindowFeeder(prediction_window) if prediction_window is not None else None
        self.chunk_rows = chunk_rows
        self.records: list[dict[str, Any]] = []

    def add(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        if len(self.records) >= self.chunk_rows:
            self.flush()

    def flush(self) -> None:
        records, self.records = self.records, []
        if not records:
            return
        rows = [r["features"] if isinstance(r.get("features"), dict) else {} for r in records]
        features = self.to_features(rows) if self.to_features is not None else rows
        self.features.add_records(features)
        if self.estimate is not None:
            self.estimate.add(records, features)
        if self.predictions is not None:
            (name,) = self.predictions.window.reference.features
            self.predictions.add_columns({name: [r.get("prediction") for r in records]}, len(records))


def scan_capture(
    bucket: str,
    model_name: str,
    version: int,
    *,
    window_start: float,
    window_end: float,
    batcher: CaptureBatcher,
    labels: Mapping[str, Any] | None = None,
    labels_start: float | None = None,
) -> CaptureScan:
    """One pass over the capture: records of ``version`` with window_start < timestamp <= window_end feed the
    drift windows; records with a label and a timestamp after ``labels_start`` are joined to it."""
    scan = CaptureScan()
    start = min(window_start, labels_start) if labels and labels_start is not None else window_start
    for key in partition_keys(bucket, layout.capture_prefix(model_name), start, window_end):
        scan.objects += 1
        for document in json_lines(bucket, key):
            if document.get("capture") != layout.CAPTURE_MARKER:
                continue
            timestamp = document.get("timestamp")
            if not isinstance(timestamp, int | float) or not start < timestamp <= window_end:
                continue
            in_window = timestamp > window_start
            for record in records_of(document):
                if record.get("version", document.get("version")) != version:
                    scan.other_versions += in_window
                    continue
                if in_window:
                    scan.rows += 1
                    batcher.add(record)
                if labels and labels_start is not None and timestamp > labels_start:
                    actual = labels.get(record.get("inference_id"))
                    if actual is not None:
                        scan.joined.append((record.get("prediction"), actual))
    batcher.flush()
    return scan
