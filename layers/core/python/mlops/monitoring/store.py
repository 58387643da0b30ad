"""The monitor's items in the registry table, without numpy (the admin API reads and writes them too).

``sk = MONITOR``: a model's monitoring overrides and the monitor's state (window, consecutive drifted windows,
last retraining), with a revision for conditional writes; ``sk = CHECK#<ts>#<id>``: one summary per check.
Keys come from ``mlops.storage.layout``, the wire format from ``mlops.storage.codec``. Inside, the state and a
check's summary are typed records (``MonitorState``, ``CheckSummary``); they become documents only here and in
the handlers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from botocore.exceptions import ClientError

from mlops.errors import VersionConflict
from mlops.storage import layout
from mlops.storage.codec import set_expression, to_item
from mlops.storage.table import ModelTable


@dataclass(frozen=True)
class RetrainingRecord:
    """The retraining run a check reserved (``execution_arn`` arrives once the state machine started it)."""

    at: str
    check_id: str
    execution_name: str
    reason: str
    from_version: int
    execution_arn: str | None = None

    @classmethod
    def from_document(cls, document: Mapping[str, Any] | None) -> RetrainingRecord | None:
        if not document:
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in document.items() if k in known})

    def to_document(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MonitorState:
    version: int | None = None  # the production version the counters refer to
    window_start: float | None = None  # epoch seconds: capture after this is not yet checked
    consecutive_drifted: int = 0
    last_check_at: str | None = None
    last_check_id: str | None = None
    last_status: str | None = None
    last_report_uri: str | None = None
    last_html_uri: str | None = None
    alert_signature: tuple[str, ...] = ()
    last_retraining: RetrainingRecord | None = None

    @classmethod
    def from_document(cls, document: Mapping[str, Any] | None) -> MonitorState:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in (document or {}).items() if k in known}
        values["alert_signature"] = tuple(values.get("alert_signature") or ())
        values["last_retraining"] = RetrainingRecord.from_document(values.get("last_retraining"))
        return cls(**values)

    def to_document(self) -> dict[str, Any]:
        document = asdict(self)
        document["alert_signature"] = list(self.alert_signature)
        document["last_retraining"] = self.last_retraining.to_document() if self.last_retraining else None
        return document


@dataclass(frozen=True)
class StoredMonitor:
    """The MONITOR item as read: overrides, state and the revision a conditional write compares with."""

    config: dict[str, Any] = field(default_factory=dict)
    state: MonitorState | None = None  # None: no check ran yet
    revision: int | None = None  # None: the item does not exist yet


@dataclass(frozen=True)
class CheckSummary:
    """One check's compact result: the CHECK# item and the core of the state machine's output."""

    model_name: str
    check_id: str
    created_at: str
    status: str
    version: int
    rows: int
    dataset_drift: bool
    drift_confirmed: bool
    drifted_features: tuple[str, ...]
    drift_share: float
    data_quality_violations: int
    performance: str
    retraining_started: bool
    decision: str
    report_uri: str
    html_uri: str
    estimated_performance: str = "unavailable"  # the label-free estimate's status (estimated.judge_estimated)

    def to_document(self) -> dict[str, Any]:
        document = asdict(self)
        document["drifted_features"] = list(self.drifted_features)
        return document


class MonitoringStore(ModelTable):
    """The MONITOR item (config overrides + state, with a revision for conditional writes) and check summaries."""

    def get_document(self, model_name: str) -> dict[str, Any]:
        """The MONITOR item as a document ({} if there is none)."""
        return self.get_item(model_name, layout.MONITOR_SK) or {}

    def get(self, model_name: str) -> StoredMonitor:
        document = self.get_document(model_name)
        return StoredMonitor(
            config=dict(document.get("config") or {}),
            state=MonitorState.from_document(document["state"]) if document.get("state") else None,
            revision=document.get("revision"),
        )

    def save_state(self, model_name: str, state: MonitorState, *, seen_revision: int | None) -> int:
        """Replace the state if nobody wrote it since ``seen_revision`` was read (None: it did not exist)."""
        revision = (seen_revision or 0) + 1
        names = {"#state": "state", "#revision": "revision", "#model": "model_name"}
        values = to_item({":state": state.to_document(), ":revision": revision, ":model": model_name})
        update: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": layout.item_key(model_name, layout.MONITOR_SK),
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
            Key=layout.item_key(model_name, layout.MONITOR_SK),
            UpdateExpression="SET #config = :config, #model = :model, "
            "#revision = if_not_exists(#revision, :zero) + :one",
            ExpressionAttributeNames={"#config": "config", "#model": "model_name", "#revision": "revision"},
            ExpressionAttributeValues=to_item(
                {":config": dict(overrides), ":model": model_name, ":zero": 0, ":one": 1}
            ),
        )

    def config_update(self, model_name: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """``set_config`` as a transaction item, so a change of settings and its audit event are one write."""
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": layout.item_key(model_name, layout.MONITOR_SK),
                "UpdateExpression": "SET #config = :config, #model = :model, "
                "#revision = if_not_exists(#revision, :zero) + :one",
                "ExpressionAttributeNames": {"#config": "config", "#model": "model_name", "#revision": "revision"},
                "ExpressionAttributeValues": to_item(
                    {":config": dict(overrides), ":model": model_name, ":zero": 0, ":one": 1}
                ),
            }
        }

    def put_check(self, summary: CheckSummary) -> None:
        item = {
            "pk": layout.model_pk(summary.model_name),
            "sk": layout.check_sk(summary.created_at, summary.check_id),
            **summary.to_document(),
        }
        self.dynamodb.put_item(TableName=self.table_name, Item=to_item(item))

    def update_check(self, model_name: str, created_at: str, check_id: str, fields_: Mapping[str, Any]) -> None:
        expression, names, values = set_expression(fields_)
        self.dynamodb.update_item(
            TableName=self.table_name,
            Key=layout.item_key(model_name, layout.check_sk(created_at, check_id)),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def list_checks(self, model_name: str, limit: int = 20) -> list[dict[str, Any]]:
        checks = self.query(model_name, layout.CHECK_PREFIX, newest_first=True, limit=limit)
        return [{k: v for k, v in check.items() if k not in ("pk", "sk")} for check in checks]


def monitoring_overview(model_name: str, *, store: MonitoringStore, limit: int = 10) -> dict[str, Any]:
    stored = store.get(model_name)
    return {
        "model_name": model_name,
        "config": stored.config,
        "state": stored.state.to_document() if stored.state else {},
        "checks": store.list_checks(model_name, limit),
    }
