"""Shadow replay: a challenger answers copies of production's requests, and nobody sees its answers.

The copies are production's own capture (``capture/<model>/dt=<day>/``, what the predict route logs and Firehose
delivers): the bake replays the requests production served since the shadow started against the challenger, with
the same serving runtime, off the request path (no extra call or latency for production's callers). Its answers
are written to ``shadow/<model>/v<n>/`` beside the champion's, and the replay reports the challenger's errors,
99th percentile latency and disagreement with the champion on the same rows.
"""

from __future__ import annotations

import math
import time
import uuid
from typing import Any

import numpy as np

from mlops.monitoring.capture_records import records_of
from mlops.monitoring.partitions import iso_seconds, json_lines, partition_keys
from mlops.records.registry import PRODUCTION
from mlops.serving.cache import ModelCache
from mlops.serving.http import dumps
from mlops.serving.runtime import ModelNotServable
from mlops.serving.validation import InvalidInstances, validate_instances
from mlops.storage import layout, objects

MAX_REPLAYED_ROWS = 5000  # a bake's replay stays one short invocation; the report says how many rows it saw
# Regression: answers further apart than this share of the champion's (at least 1e-9) count as a disagreement.
REGRESSION_DISAGREEMENT_TOLERANCE = 0.05


def _captured_requests(
    bucket: str, model_name: str, champion_version: int, start: float, end: float
) -> list[dict[str, Any]]:
    """The capture lines production's champion wrote in [start, end], oldest first, up to MAX_REPLAYED_ROWS rows."""
    lines, rows = [], 0
    for key in partition_keys(bucket, layout.capture_prefix(model_name), start, end):
        for line in json_lines(bucket, key):
            if (
                line.get("capture") != layout.CAPTURE_MARKER
                or line.get("version") != champion_version
                or line.get("alias", PRODUCTION) != PRODUCTION
                or not isinstance(line.get("timestamp"), int | float)
                or not start <= line["timestamp"] <= end
            ):
                continue
            records = records_of(line)
            if not records:
                continue
            lines.append({**line, "records": records})
            rows += len(records)
            if rows >= MAX_REPLAYED_ROWS:
                break
    lines.sort(key=lambda line: line["timestamp"])
    return lines


def _disagrees(champion: Any, challenger: Any, task: str) -> bool:
    if task == "regression":
        try:
            scale = max(abs(float(champion)), 1e-9)
            return not math.isclose(
                float(challenger), float(champion), abs_tol=REGRESSION_DISAGREEMENT_TOLERANCE * scale
            )
        except (TypeError, ValueError):
            return True
    return challenger != champion


def replay(
    cache: ModelCache,
    model_name: str,
    *,
    champion_version: int,
    challenger_version: int,
    start: float,
    end: float | None = None,
) -> dict[str, Any]:
    """Replay production's captured requests since ``start`` against the challenger and report what it did."""
    end = time.time() if end is None else end
    bucket = cache.artifacts_bucket
    challenger = cache.load_version(model_name, challenger_version)
    task = challenger.schema.task
    requests = errors = rows_compared = disagreements = 0
    latencies_ms: list[float] = []
    answers: list[str] = []
    for line in _captured_requests(bucket, model_name, champion_version, start, end):
        records = line["records"]
        instances = [record.get("features") for record in records]
        requests += 1
        started = time.perf_counter()
        try:
            predicted = challenger.model.predict(validate_instances(instances, challenger.schema))
        except (InvalidInstances, ModelNotServable, ValueError, RuntimeError) as exc:
            # The champion answered these rows: a challenger that cannot is an error a caller would have seen.
            latencies_ms.append((time.perf_counter() - started) * 1000)
            errors += 1
            answers.append(dumps({"request": line["timestamp"], "error": type(exc).__name__}))
            continue
        latencies_ms.append((time.perf_counter() - started) * 1000)
        for record, label in zip(records, predicted.labels, strict=True):
            differs = _disagrees(record.get("prediction"), label, task)
            rows_compared += 1
            disagreements += int(differs)
            answers.append(
                dumps(
                    {
                        "inference_id": record.get("inference_id"),
                        "champion_version": champion_version,
                        "champion_prediction": record.get("prediction"),
                        "challenger_version": challenger_version,
                        "challenger_prediction": label,
                        "disagrees": differs,
                    }
                )
            )
    capture_uri = None
    if answers:
        uri = layout.shadow_capture(
            bucket, model_name, challenger_version, iso_seconds(end).replace(":", ""), uuid.uuid4().hex[:8]
        )
        objects.put_bytes(uri, ("\n".join(answers) + "\n").encode())
        capture_uri = str(uri)
    return {
        "model_name": model_name,
        "version": challenger_version,
        "champion_version": champion_version,
        "requests": requests,
        "errors": errors,
        "rows": rows_compared,
        "p99_latency_ms": float(np.percentile(latencies_ms, 99)) if latencies_ms else None,
        "disagreement": disagreements / rows_compared if rows_compared else None,
        "capture_uri": capture_uri,
    }
