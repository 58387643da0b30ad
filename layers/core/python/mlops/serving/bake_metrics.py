"""Per-version serving metrics over a bake window, read back from CloudWatch.

The predict function publishes ``PredictErrors`` and ``PredictLatency`` per model and version as embedded metric
format lines on stdout (``mlops.serving.http.RequestMetrics``: no network call on the hot path). On AWS, CloudWatch
Logs turns those lines into metrics; the local stack does the same for moto's CloudWatch
(``local/emulated/emf.py``), and gives moto the percentile statistics it leaves out. So the bake reads one
source, by one API, in both places.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from mlops.serving.http import (
    METRIC_DIMENSION_MODEL,
    METRIC_DIMENSION_SERVICE,
    METRIC_DIMENSION_VERSION,
    PREDICT_ERRORS_METRIC,
    PREDICT_LATENCY_METRIC,
)
from mlops.storage import clients

LATENCY_PERCENTILE = "p99"


@dataclass(frozen=True)
class ServingObservation:
    """What a version did in a bake window: requests answered, 5xx answers, the 99th percentile latency and, for a
    shadow, the share of replayed rows it answered otherwise than the champion."""

    requests: int
    errors: int
    p99_latency_ms: float | None
    disagreement: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def to_document(self) -> dict[str, Any]:
        return {**asdict(self), "error_rate": round(self.error_rate, 6)}


def _period_s(start: float, end: float) -> int:
    """One period covering the whole window (a percentile cannot be combined across periods), in whole minutes as
    CloudWatch requires of standard-resolution metrics."""
    return max(60, math.ceil((end - start) / 60) * 60)


@dataclass(frozen=True)
class CloudWatchServingMetrics:
    namespace: str
    service: str
    client: Any = None

    def observe(self, model_name: str, version: int, start: float, end: float) -> ServingObservation:
        dimensions = [
            {"Name": METRIC_DIMENSION_SERVICE, "Value": self.service},
            {"Name": METRIC_DIMENSION_MODEL, "Value": model_name},
            {"Name": METRIC_DIMENSION_VERSION, "Value": str(version)},
        ]
        period = _period_s(start, end)

        def query(query_id: str, metric: str, stat: str) -> dict[str, Any]:
            return {
                "Id": query_id,
                "MetricStat": {
                    "Metric": {"Namespace": self.namespace, "MetricName": metric, "Dimensions": dimensions},
                    "Period": period,
                    "Stat": stat,
                },
            }

        cloudwatch = self.client or clients.client("cloudwatch")
        answer = cloudwatch.get_metric_data(
            MetricDataQueries=[
                query("requests", PREDICT_ERRORS_METRIC, "SampleCount"),
                query("errors", PREDICT_ERRORS_METRIC, "Sum"),
                query("latency", PREDICT_LATENCY_METRIC, LATENCY_PERCENTILE),
            ],
            StartTime=datetime.fromtimestamp(start, UTC),
            EndTime=datetime.fromtimestamp(end + 1, UTC),
        )
        values = {
            result["Id"]: [v for v in result.get("Values", []) if v is not None]
            for result in answer["MetricDataResults"]
        }
        requests = int(round(sum(values.get("requests", []))))
        errors = int(round(sum(values.get("errors", []))))
        latencies = values.get("latency", [])
        return ServingObservation(requests, errors, max(latencies) if latencies else None)
