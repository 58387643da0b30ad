"""Day-partitioned JSON-lines objects in S3 (capture and feedback, ``<prefix>/dt=<day>/``): which objects a time
range touches, their lines as documents, and the epoch ↔ ISO conversions of the timestamps they carry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from mlops.storage import clients, layout


def iso_seconds(epoch: float) -> str:
    """UTC, whole seconds, ``Z``."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def epoch_seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def partition_days(start: float, end: float) -> list[str]:
    """The ``dt=`` days (UTC) from the day of ``start`` to the day of ``end``."""
    first = datetime.fromtimestamp(start, UTC).date()
    last = datetime.fromtimestamp(end, UTC).date()
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def partition_keys(bucket: str, prefix: str, start: float, end: float) -> Iterator[str]:
    """Keys under ``<prefix>/dt=<day>/`` for each day in [start, end] (one day later too: partitions are by arrival
    time), skipping objects written before ``start`` (they cannot hold anything newer)."""
    s3 = clients.client("s3")
    for day in partition_days(start, end + 86_400):
        kwargs = {"Bucket": bucket, "Prefix": layout.day_prefix(prefix, day)}
        while True:
            page = s3.list_objects_v2(**kwargs)
            for item in page.get("Contents", []):
                if item["LastModified"].timestamp() >= start - 1:
                    yield item["Key"]
            if not page.get("IsTruncated"):
                break
            kwargs["ContinuationToken"] = page["NextContinuationToken"]


def json_lines(bucket: str, key: str) -> Iterator[dict[str, Any]]:
    """The JSON objects of one JSON-lines object; a torn or non-object line is skipped, not fatal."""
    body = clients.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    for line in body.iter_lines(chunk_size=1 << 20):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError:
            continue  # the rest of the window still counts
        if isinstance(document, dict):
            yield document
