"""What moto's Firehose and CloudWatch Logs leave out, for the capture path: subscription filter patterns,
CloudWatch Logs message extraction and dynamic partitioning (``!{partitionKeyFromQuery:..}``, ``!{timestamp:..}``).

moto sends every log event of a subscribed group to the stream as one gzipped CloudWatch Logs envelope and
writes it under ``<prefix>/YYYY/MM/DD/HH/``. AWS, with the template's processing configuration, delivers only
the events the filter pattern matches, unwrapped, one per line, under the partitioned prefix. This module
does the latter for the stream configurations the local stack registers, covering only the pattern and jq
forms the template uses (and refusing others, so a template change cannot be silently mis-emulated).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.firehose.models import FirehoseBackend
from moto.s3.models import s3_backends

_FILTER_PATTERN = re.compile(r'^\{\s*\$\.(\w+)\s*=\s*"([^"]*)"\s*\}$')
_JQ_OBJECT = re.compile(r"^\{\s*(\w+)\s*:\s*\.(\w+)\s*\}$")
_JAVA_DATE = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}


@dataclass
class StreamProcessing:
    bucket: str
    prefix: str
    partition_keys: dict[str, str]  # partition key -> top-level field of the record
    filters: dict[str, tuple[str, str]]  # subscription filter name -> (field, value)


_streams: dict[str, StreamProcessing] = {}
_original_send_log_event = FirehoseBackend.send_log_event


def register_stream(stream_name: str, destination: dict[str, Any]) -> None:
    """Remember a stream's processing configuration (the template's ExtendedS3DestinationConfiguration)."""
    keys: dict[str, str] = {}
    for processor in destination.get("ProcessingConfiguration", {}).get("Processors", []):
        if processor["Type"] != "MetadataExtraction":
            continue
        for parameter in processor["Parameters"]:
            if parameter["ParameterName"] == "MetadataExtractionQuery":
                match = _JQ_OBJECT.match(parameter["ParameterValue"])
                if not match:
                    raise NotImplementedError(f"local Firehose supports '{{key: .field}}' queries only: {parameter}")
                keys[match.group(1)] = match.group(2)
    bucket = destination["BucketARN"].split(":")[-1]
    _streams[stream_name] = StreamProcessing(bucket, destination.get("Prefix", ""), keys, {})


def register_subscription(stream_name: str, filter_name: str, pattern: str) -> None:
    match = _FILTER_PATTERN.match(pattern)
    if not match:
        raise NotImplementedError(f"local subscription filters support '{{ $.field = \"value\" }}' only: {pattern}")
    _streams[stream_name].filters[filter_name] = (match.group(1), match.group(2))


def forget() -> None:
    _streams.clear()


def _render_prefix(prefix: str, keys: dict[str, str], now: datetime) -> str:
    def timestamp(match: re.Match[str]) -> str:
        fmt = match.group(1)
        for java, strftime in _JAVA_DATE.items():
            fmt = fmt.replace(java, strftime)
        return now.strftime(fmt)

    rendered = re.sub(r"!\{timestamp:([^}]+)\}", timestamp, prefix)
    return re.sub(r"!\{partitionKeyFromQuery:(\w+)\}", lambda m: keys[m.group(1)], rendered)


def _matching_records(processing: StreamProcessing, filter_name: str, log_events: list[dict[str, Any]]):
    field, value = processing.filters[filter_name]
    for event in log_events:
        try:
            record = json.loads(event["message"])
        except ValueError:
            continue
        if isinstance(record, dict) and str(record.get(field)) == value:
            yield event["message"].strip(), record


def _send_log_event(  # noqa: PLR0917 - the signature moto calls positionally
    self: FirehoseBackend,
    delivery_stream_arn: str,
    filter_name: str,
    log_group_name: str,
    log_stream_name: str,
    log_events: list[dict[str, Any]],
) -> None:
    stream_name = delivery_stream_arn.rsplit("/", maxsplit=1)[-1]
    processing = _streams.get(stream_name)
    if processing is None:
        return _original_send_log_event(
            self, delivery_stream_arn, filter_name, log_group_name, log_stream_name, log_events
        )
    now = datetime.now(UTC)
    partitions: dict[str, list[str]] = {}
    for message, record in _matching_records(processing, filter_name, log_events):
        keys = {key: str(record.get(field)) for key, field in processing.partition_keys.items()}
        partitions.setdefault(_render_prefix(processing.prefix, keys, now), []).append(message)
    for prefix, messages in partitions.items():
        key = f"{prefix}{stream_name}-1-{now.strftime('%Y-%m-%d-%H-%M-%S')}-{uuid.uuid4()}"
        body = ("\n".join(messages) + "\n").encode()
        s3_backends[self.account_id][self.partition].put_object(processing.bucket, key, body)
    return None
