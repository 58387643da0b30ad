"""CloudWatch embedded metric format (EMF) for the local stack: what CloudWatch Logs does with an EMF log line on
AWS, and the percentile statistics moto's CloudWatch leaves out.

On AWS a log line carrying ``_aws.CloudWatchMetrics`` becomes metrics (one datum per metric and dimension set) in
the namespace it names. moto stores the line and nothing more, so a bake reading the predict function's per-version
metrics (``mlops.serving.bake_metrics``) would find none. This applies the EMF specification to every log event
moto stores (``LogsBackend.put_log_events``: what a function prints goes there), and lets moto's GetMetricData
answer ``pNN`` statistics over the raw values (nearest rank; CloudWatch's are approximations of the same).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.models import MetricDatum, Statistics, cloudwatch_backends
from moto.logs.models import LogsBackend

_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")
_original_put_log_events = LogsBackend.put_log_events
_original_statistic = Statistics.get_statistics_for_type


def metric_data(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(namespace, PutMetricData datum) for each metric and dimension set of one EMF document; [] if it is none."""
    envelope = document.get("_aws")
    if not isinstance(envelope, dict) or not isinstance(envelope.get("CloudWatchMetrics"), list):
        return []
    timestamp = envelope.get("Timestamp")
    # naive UTC, as moto keeps its own datapoints and the times of its queries
    at = (
        datetime.fromtimestamp(timestamp / 1000, UTC).replace(tzinfo=None)
        if isinstance(timestamp, int | float)
        else None
    )
    found = []
    for directive in envelope["CloudWatchMetrics"]:
        namespace = directive.get("Namespace")
        for dimension_set in directive.get("Dimensions") or [[]]:
            if not all(isinstance(document.get(name), str) for name in dimension_set):
                continue  # the specification: a dimension must be a string member of the document
            dimensions = [{"Name": name, "Value": document[name]} for name in dimension_set]
            for metric in directive.get("Metrics", []):
                values = document.get(metric.get("Name"))
                for value in values if isinstance(values, list) else [values]:
                    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                        datum = {"MetricName": metric["Name"], "Value": float(value), "Dimensions": dimensions}
                        if metric.get("Unit"):
                            datum["Unit"] = metric["Unit"]
                        if at is not None:
                            datum["Timestamp"] = at
                        found.append((namespace, datum))
    return found


def publish(account_id: str, region: str, messages: list[str]) -> int:
    """Put the EMF lines among ``messages`` into moto's CloudWatch; return how many data points."""
    backend = cloudwatch_backends[account_id][region]
    count = 0
    for message in messages:
        if '"_aws"' not in message:
            continue
        try:
            document = json.loads(message)
        except ValueError:
            continue
        if not isinstance(document, dict):
            continue
        for namespace, datum in metric_data(document):
            backend.metric_data.append(
                MetricDatum(
                    namespace=namespace,
                    name=datum["MetricName"],
                    value=datum["Value"],
                    dimensions=datum["Dimensions"],
                    timestamp=datum.get("Timestamp"),
                    unit=datum.get("Unit"),
                )
            )
            count += 1
    return count


def _put_log_events(self: LogsBackend, log_group_name: str, log_stream_name: str, log_events: list[dict[str, Any]]):
    answer = _original_put_log_events(self, log_group_name, log_stream_name, log_events)
    publish(self.account_id, self.region_name, [event.get("message", "") for event in log_events])
    return answer


def percentile(values: list[float], rank: float) -> float | None:
    """Nearest-rank percentile (``rank`` in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, math.ceil(rank / 100 * len(ordered)) - 1)
    return ordered[min(index, len(ordered) - 1)]


def _statistic(self: Statistics, stat: str) -> Any:
    match = _PERCENTILE.match(stat)
    if match is None:
        return _original_statistic(self, stat)
    return percentile(self.metric_single_values_list, float(match.group(1)))
