"""The monitor's records in the registry table and S3, without numpy (the admin API reads and writes them too).

``sk = MONITOR``: a model's monitoring overrides and the monitor's state (window, consecutive drifted windows,
last retraining), with a revision for conditional writes; ``sk = CHECK#<ts>#<id>``: one summary per check.
Ground truth arrives through the admin API as JSON lines under ``feedback/<model>/dt=<day>/``.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from mlops.errors import InvalidFeedback, ModelNotFound, VersionConflict
from mlops.registry.records import PRODUCTION
from mlops.registry.store import ModelRegistry
from mlops.storage import clients, objects
from mlops.storage.codec import from_item, to_item
from mlops.storage.objects import S3Uri

MONITOR_KEY = "MONITOR"
CHECK_PREFIX = "CHECK#"
FEEDBACK_MARKER = "mlops.feedback.v1"


# ---- the monitor's state in the registry table ---------------------------------------------------------------
@dataclass
class MonitorState:
    version: int | None = None  # the production version the counters refer to
    window_start: float | None = None  # epoch seconds: capture after this is not yet checked
    consecutive_drifted: int = 0
    last_check_at: str | None = None
    last_check_id: str | None = None
    last_status: str | None = None
    last_report_uri: str | None = None
    last_html_uri: str | None = None
    alert_signature: list[str] = field(default_factory=list)
    last_retraining: dict[str, Any] | None = None

    @classmethod
    def from_document(cls, document: Mapping[str, Any] | None) -> MonitorState:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (document or {}).items() if k in known})


class MonitoringStore:
    """The MONITOR item (config overrides + state, with a revision for conditional writes) and check summaries."""

    def __init__(self, table_name: str, dynamodb: Any | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb

    @property
    def dynamodb(self) -> Any:
        return self._dynamodb or clients.client("dynamodb")

    def _key(self, model_name: str, sort_key: str) -> dict[str, Any]:
        return {"pk": {"S": f"MODEL#{model_name}"}, "sk": {"S": sort_key}}

    def get(self, model_name: str) -> dict[str, Any]:
        response = self.dynamodb.get_item(
            TableName=self.table_name, Key=self._key(model_name, MONITOR_KEY), ConsistentRead=True
        )
        return from_item(response["Item"]) if "Item" in response else {}

    def save_state(self, model_name: str, state: MonitorState, *, seen_revision: int | None) -> int:
        """Replace the state if nobody wrote it since ``seen_revision`` was read (None: it did not exist)."""
        revision = (seen_revision or 0) + 1
        names = {"#state": "state", "#revision": "revision", "#model": "model_name"}
        values = to_item({":state": asdict(state), ":revision": revision, ":model": model_name})
        update: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": self._key(model_name, MONITOR_KEY),
            "UpdateExpression": "SET #state = :state, #revision = :revision, #model = :model",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if seen_revision is None:
            update["ConditionExpression"] = "attribute_not_exists(#revision)"
        else:
            update["ConditionExpression"] = "#revision = :seen"
            update["ExpressionAttributeValues"].update(to_item({":seen": seen_revision}))
        try:
            self.dynamodb.update_item(**update)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise VersionConflict(
                    f"the monitor of {model_name} changed during this check (another check ran): retry it"
                ) from exc
            raise
        return revision

    def set_config(self, model_name: str, overrides: Mapping[str, Any]) -> None:
        """Store a model's monitoring overrides (validated by the caller); the state is left as it is."""
        self.dynamodb.update_item(
            TableName=self.table_name,
            Key=self._key(model_name, MONITOR_KEY),
            UpdateExpression="SET #config = :config, #model = :model, "
            "#revision = if_not_exists(#revision, :zero) + :one",
            ExpressionAttributeNames={"#config": "config", "#model": "model_name", "#revision": "revision"},
            ExpressionAttributeValues=to_item(
                {":config": dict(overrides), ":model": model_name, ":zero": 0, ":one": 1}
            ),
        )

    def put_check(self, model_name: str, created_at: str, check_id: str, summary: Mapping[str, Any]) -> None:
        item = {
            "pk": f"MODEL#{model_name}",
            "sk": f"{CHECK_PREFIX}{created_at}#{check_id}",
            "model_name": model_name,
            "check_id": check_id,
            "created_at": created_at,
            **summary,
        }
        self.dynamodb.put_item(TableName=self.table_name, Item=to_item(item))

    def update_check(self, model_name: str, created_at: str, check_id: str, fields_: Mapping[str, Any]) -> None:
        names = {f"#f{i}": name for i, name in enumerate(fields_)}
        values = to_item({f":v{i}": value for i, value in enumerate(fields_.values())})
        self.dynamodb.update_item(
            TableName=self.table_name,
            Key=self._key(model_name, f"{CHECK_PREFIX}{created_at}#{check_id}"),
            UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields_))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def list_checks(self, model_name: str, limit: int = 20) -> list[dict[str, Any]]:
        page = self.dynamodb.query(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": f"MODEL#{model_name}"}, ":prefix": {"S": CHECK_PREFIX}},
            ScanIndexForward=False,
            Limit=limit,
            ConsistentRead=True,
        )
        return [{k: v for k, v in from_item(i).items() if k not in ("pk", "sk")} for i in page.get("Items", [])]


# ---- S3 partitions -----------------------------------------------------------------------------------------
def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _days(start: float, end: float) -> list[str]:
    first = datetime.fromtimestamp(start, UTC).date()
    last = datetime.fromtimestamp(end, UTC).date()
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _objects(bucket: str, prefix: str, start: float, end: float) -> Iterator[str]:
    """Keys under ``<prefix>/dt=<day>/`` for each day in [start, end] (one day later too: partitions are by arrival
    time), skipping objects written before ``start`` (they cannot hold anything newer)."""
    s3 = clients.client("s3")
    for day in _days(start, end + 86_400):
        kwargs = {"Bucket": bucket, "Prefix": f"{prefix}/dt={day}/"}
        while True:
            page = s3.list_objects_v2(**kwargs)
            for item in page.get("Contents", []):
                if item["LastModified"].timestamp() >= start - 1:
                    yield item["Key"]
            if not page.get("IsTruncated"):
                break
            kwargs["ContinuationToken"] = page["NextContinuationToken"]


def _lines(bucket: str, key: str) -> Iterator[dict[str, Any]]:
    body = clients.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    for line in body.iter_lines(chunk_size=1 << 20):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError:
            continue  # a torn line is skipped, not fatal: the rest of the window still counts
        if isinstance(document, dict):
            yield document


def _label(value: Any) -> str:
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


def _is_number(value: Any) -> bool:
    try:
        return math.isfinite(float(value)) and not isinstance(value, bool)
    except (TypeError, ValueError):
        return False


def read_labels(bucket: str, model_name: str, start: float, end: float) -> dict[str, Any]:
    """inference_id -> actual label, from feedback received in [start, end] (the latest label wins)."""
    labels: dict[str, Any] = {}
    for key in _objects(bucket, f"feedback/{model_name}", start, end):
        for document in _lines(bucket, key):
            if document.get("feedback") == FEEDBACK_MARKER and isinstance(document.get("inference_id"), str):
                labels[document["inference_id"]] = document.get("label")
    return labels


# ---- ground truth -------------------------------------------------------------------------------------------
def store_feedback(bucket: str, model_name: str, labels: list[dict[str, Any]], *, now: float | None = None) -> str:
    """Write received labels as one JSON-lines object under feedback/<model>/dt=<day>/ (the check joins them)."""
    now = time.time() if now is None else now
    day = datetime.fromtimestamp(now, UTC).date().isoformat()
    received_at = _iso(now)
    lines = [
        json.dumps(
            {
                "feedback": FEEDBACK_MARKER,
                "inference_id": item["inference_id"],
                "label": item["label"],
                "received_at": received_at,
            },
            allow_nan=False,
        )
        for item in labels
    ]
    uri = S3Uri(bucket, f"feedback/{model_name}/dt={day}/{int(now * 1000)}-{uuid.uuid4().hex[:12]}.jsonl")
    objects.put_bytes(uri, ("\n".join(lines) + "\n").encode(), "application/x-ndjson")
    return str(uri)


def monitoring_overview(model_name: str, *, store: MonitoringStore, limit: int = 10) -> dict[str, Any]:
    stored = store.get(model_name)
    return {
        "model_name": model_name,
        "config": stored.get("config") or {},
        "state": stored.get("state") or {},
        "checks": store.list_checks(model_name, limit),
    }


def accept_feedback(
    registry: ModelRegistry, bucket: str, model_name: str, labels: list[dict[str, Any]], *, now: float | None = None
) -> dict[str, Any]:
    """Validate ground-truth labels against the production version's task and classes, then store them."""
    alias = registry.get_alias(model_name, PRODUCTION)
    if alias is None:
        raise ModelNotFound(f"model {model_name!r} has no production version to give feedback on")
    record = registry.get_version(model_name, alias.version)
    schema = record.schema_document
    task = record.task
    normalised = []
    for position, item in enumerate(labels):
        value = item["label"]
        if task == "regression":
            if isinstance(value, bool) or not _is_number(value):
                raise InvalidFeedback(f"labels[{position}]: a regression label must be a finite number, not {value!r}")
            value = float(value)
        else:
            value = _label(value)
            classes = schema.get("classes") or []
            if classes and value not in classes:
                raise InvalidFeedback(f"labels[{position}]: {value!r} is not a class of {model_name} ({classes})")
        normalised.append({"inference_id": item["inference_id"], "label": value})
    uri = store_feedback(bucket, model_name, normalised, now=now)
    return {"model_name": model_name, "accepted": len(normalised), "uri": uri}
