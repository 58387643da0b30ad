"""The model registry: one interface over the DynamoDB single table (versions, aliases, audit events).

Artifacts live in S3 (see ``artifacts``); the registry records their URIs and sha256 digests. Every state
change is a DynamoDB transaction that also appends its audit event, so the trail cannot miss a change.

Items under ``pk = MODEL#<name>``:
  ``MODEL``                  the model and its version counter (``latest_version``)
  ``VERSION#<000001>``       one registered version (status, metrics, lineage, artifact uri + sha256, ...)
  ``RUN#<execution id>``     which version a pipeline execution registered (makes registration idempotent)
  ``ALIAS#<alias>``          version, previous_version, updated_at/by
  ``EVENT#<iso-ts>#<id>``    append-only audit event: who, what, why, before/after
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from mlops.errors import DeploymentRefused, ModelNotFound, NothingToRollBack, VersionConflict
from mlops.storage import clients

PRODUCTION = "production"
MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MODEL_NAME_PATTERN_RE = re.compile(MODEL_NAME_PATTERN)
VERSION_REGISTERED = "Registered"
VERSION_REJECTED = "Rejected"
VERSION_PENDING_APPROVAL = "PendingApproval"
VERSION_APPROVED = "Approved"
VERSION_APPROVAL_EXPIRED = "ApprovalExpired"
# Only these can serve production: Registered (no approval required) and Approved.
DEPLOYABLE_STATUSES = ("Registered", "Approved")
MAX_WRITE_ATTEMPTS = 20

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def to_item(document: dict[str, Any]) -> dict[str, Any]:
    # DynamoDB has no floats: numbers go through Decimal, and NaN/inf are refused by json.dumps.
    plain = json.loads(json.dumps(document, allow_nan=False), parse_float=Decimal)
    return {key: _serializer.serialize(value) for key, value in plain.items()}


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: plain(_deserializer.deserialize(value)) for key, value in item.items()}


def _model_key(model_name: str) -> str:
    return f"MODEL#{model_name}"


def _version_key(version: int) -> str:
    return f"VERSION#{version:06d}"


def _cancellation_codes(exc: ClientError) -> list[str]:
    return [reason.get("Code", "") for reason in exc.response.get("CancellationReasons", [])]


class ModelRegistry:
    def __init__(self, table_name: str, dynamodb: Any | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb

    @property
    def dynamodb(self) -> Any:
        return self._dynamodb or clients.client("dynamodb")

    # ---- reads -------------------------------------------------------------------------------------------
    def _get(self, model_name: str, sort_key: str) -> dict[str, Any] | None:
        response = self.dynamodb.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": _model_key(model_name)}, "sk": {"S": sort_key}},
            ConsistentRead=True,
        )
        return from_item(response["Item"]) if "Item" in response else None

    def _query(self, model_name: str, prefix: str, newest_first: bool = False) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": _model_key(model_name)}, ":prefix": {"S": prefix}},
            "ConsistentRead": True,
            "ScanIndexForward": not newest_first,
        }
        while True:
            page = self.dynamodb.query(**kwargs)
            items.extend(from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_model(self, model_name: str) -> dict[str, Any]:
        model = self._get(model_name, "MODEL")
        if model is None:
            raise ModelNotFound(f"model {model_name!r} is not registered")
        return model

    def list_models(self) -> list[dict[str, Any]]:
        models: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "sk = :sk",
            "ExpressionAttributeValues": {":sk": {"S": "MODEL"}},
            "ConsistentRead": True,
        }
        while True:
            page = self.dynamodb.scan(**kwargs)
            models.extend(from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(models, key=lambda m: m["model_name"])
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_version(self, model_name: str, version: int) -> dict[str, Any]:
        record = self._get(model_name, _version_key(version))
        if record is None:
            raise ModelNotFound(f"model {model_name!r} has no version {version}")
        return record

    def list_versions(self, model_name: str) -> list[dict[str, Any]]:
        return self._query(model_name, "VERSION#")

    def get_alias(self, model_name: str, alias: str = PRODUCTION) -> dict[str, Any] | None:
        return self._get(model_name, f"ALIAS#{alias}")

    def list_aliases(self, model_name: str) -> list[dict[str, Any]]:
        return self._query(model_name, "ALIAS#")

    def list_events(self, model_name: str) -> list[dict[str, Any]]:
        return self._query(model_name, "EVENT#")

    def version_for_run(self, model_name: str, run_id: str) -> int | None:
        run = self._get(model_name, f"RUN#{run_id}")
        return run["version"] if run else None

    # ---- writes ------------------------------------------------------------------------------------------
    def _event_put(
        self, model_name: str, event_type: str, *, actor: str, reason: str, before: Any, after: Any, at: str
    ) -> dict[str, Any]:
        event_id = uuid.uuid4().hex[:12]
        event = {
            "pk": _model_key(model_name),
            "sk": f"EVENT#{at}#{event_id}",
            "event_id": event_id,
            "model_name": model_name,
            "event_type": event_type,
            "actor": actor,
            "reason": reason,
            "before": before,
            "after": after,
            "at": at,
        }
        # Append-only: an event is only ever created, never overwritten.
        return {
            "Put": {
                "TableName": self.table_name,
                "Item": to_item(event),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def register_version(
        self, model_name: str, record: dict[str, Any], *, status: str, run_id: str, actor: str, reason: str
    ) -> tuple[int, bool]:
        """Allocate the next version atomically and store the record; return (version, newly_created).

        The version counter, the version item, the run marker and the audit event are one transaction, so
        two concurrent registrations never share a version and a retried step never registers twice.
        """
        for _ in range(MAX_WRITE_ATTEMPTS):
            existing = self.version_for_run(model_name, run_id)
            if existing is not None:
                return existing, False
            model = self._get(model_name, "MODEL")
            current = model["latest_version"] if model else 0
            version = current + 1
            at = now_iso()
            if model is None:
                counter = {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": to_item(
                            {
                                "pk": _model_key(model_name),
                                "sk": "MODEL",
                                "model_name": model_name,
                                "latest_version": version,
                                "created_at": at,
                                "updated_at": at,
                            }
                        ),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            else:
                counter = {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": {"pk": {"S": _model_key(model_name)}, "sk": {"S": "MODEL"}},
                        "UpdateExpression": "SET latest_version = :next, updated_at = :at",
                        "ConditionExpression": "latest_version = :current",
                        "ExpressionAttributeValues": {
                            ":next": {"N": str(version)},
                            ":current": {"N": str(current)},
                            ":at": {"S": at},
                        },
                    }
                }
            item = {
                **record,
                "pk": _model_key(model_name),
                "sk": _version_key(version),
                "model_name": model_name,
                "version": version,
                "status": status,
                "run_id": run_id,
                "created_at": at,
                "created_by": actor,
            }
            run_marker = {"pk": _model_key(model_name), "sk": f"RUN#{run_id}", "version": version, "created_at": at}
            event_type = "VersionRejected" if status == VERSION_REJECTED else "VersionRegistered"
            try:
                self.dynamodb.transact_write_items(
                    TransactItems=[
                        counter,
                        {
                            "Put": {
                                "TableName": self.table_name,
                                "Item": to_item(item),
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        {
                            "Put": {
                                "TableName": self.table_name,
                                "Item": to_item(run_marker),
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        self._event_put(
                            model_name,
                            event_type,
                            actor=actor,
                            reason=reason,
                            before=None,
                            after={"version": version, "status": status},
                            at=at,
                        ),
                    ]
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] == "TransactionCanceledException":
                    continue  # another writer took this version or registered this run: read again
                raise
            return version, True
        raise VersionConflict(f"could not allocate a version of {model_name!r} after {MAX_WRITE_ATTEMPTS} attempts")

    def _write_alias(
        self,
        model_name: str,
        alias: str,
        current: dict[str, Any] | None,
        fields: dict[str, Any],
        *,
        event_type: str,
        actor: str,
        reason: str,
        check_version: int | None,
    ) -> dict[str, Any]:
        """Replace the alias item in one transaction with its audit event, only if nobody changed it since it was
        read (its revision), and only if ``check_version`` exists and was not rejected."""
        at = now_iso()
        revision = (current or {}).get("revision", 0) + 1
        item = {
            "pk": _model_key(model_name),
            "sk": f"ALIAS#{alias}",
            "alias": alias,
            "model_name": model_name,
            "canary_version": None,
            "canary_weight": 0.0,
            **fields,
            "revision": revision,
            "updated_at": at,
            "updated_by": actor,
            "reason": reason,
        }
        if current is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "revision = :seen",
                "ExpressionAttributeValues": {":seen": {"N": str(current.get("revision", 0))}},
            }
        if current is not None and "revision" not in current:
            condition = {"ConditionExpression": "attribute_not_exists(revision)"}
        items: list[dict[str, Any]] = []
        if check_version is not None:
            items.append(
                {
                    "ConditionCheck": {
                        "TableName": self.table_name,
                        "Key": {"pk": {"S": _model_key(model_name)}, "sk": {"S": _version_key(check_version)}},
                        "ConditionExpression": "attribute_exists(pk) AND #status <> :rejected",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":rejected": {"S": VERSION_REJECTED}},
                    }
                }
            )
        before = {k: (current or {}).get(k) for k in ("version", "canary_version", "canary_weight")}
        after = {k: item.get(k) for k in ("version", "canary_version", "canary_weight")}
        items += [
            {"Put": {"TableName": self.table_name, "Item": to_item(item), **condition}},
            self._event_put(
                model_name,
                event_type,
                actor=actor,
                reason=reason,
                before={"alias": alias, **before},
                after={"alias": alias, **after},
                at=at,
            ),
        ]
        try:
            self.dynamodb.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                raise VersionConflict(
                    f"alias {alias} of {model_name} changed concurrently or its version vanished; "
                    f"nothing was written ({_cancellation_codes(exc)})"
                ) from exc
            raise
        return plain(json.loads(json.dumps(item, allow_nan=False)))

    def _deployable(self, model_name: str, version: int) -> dict[str, Any]:
        target = self.get_version(model_name, version)
        status = target["status"]
        if status == VERSION_REJECTED:
            raise DeploymentRefused(f"{model_name} v{version} was rejected and cannot be deployed")
        if status not in DEPLOYABLE_STATUSES:
            raise DeploymentRefused(f"{model_name} v{version} is {status}: only approved versions can be deployed")
        return target

    def set_alias(
        self,
        model_name: str,
        version: int,
        *,
        actor: str,
        reason: str,
        alias: str = PRODUCTION,
        expected_version: int | None = None,
        check_expected: bool = False,
    ) -> dict[str, Any]:
        """Point an alias at a version, atomically, remembering the previous version for rollback.

        Any canary is cleared. With ``check_expected`` the move only happens if the alias still points at
        ``expected_version`` (``None``: the alias must not exist yet); otherwise VersionConflict.
        """
        self._deployable(model_name, version)
        current = self.get_alias(model_name, alias)
        current_version = current["version"] if current else None
        if check_expected and current_version != expected_version:
            raise VersionConflict(
                f"alias {alias} of {model_name} points at v{current_version}, not v{expected_version}"
            )
        return self._write_alias(
            model_name,
            alias,
            current,
            {"version": version, "previous_version": current_version},
            event_type="AliasMoved",
            actor=actor,
            reason=reason,
            check_version=version,
        )

    def set_canary(
        self, model_name: str, version: int, weight: float, *, actor: str, reason: str, alias: str = PRODUCTION
    ) -> dict[str, Any]:
        """Send a share ``weight`` (0 < weight < 1) of requests to ``version``; production stays as it is."""
        if not 0 < weight < 1:
            raise ValueError("a canary weight must be between 0 and 1 (exclusive)")
        self._deployable(model_name, version)
        current = self.get_alias(model_name, alias)
        if current is None:
            raise DeploymentRefused(f"{model_name} has no {alias} version yet: deploy one before a canary")
        if current["version"] == version:
            raise DeploymentRefused(f"v{version} already serves {alias}; a canary must be another version")
        fields = {
            "version": current["version"],
            "previous_version": current.get("previous_version"),
            "canary_version": version,
            "canary_weight": float(weight),
        }
        return self._write_alias(
            model_name,
            alias,
            current,
            fields,
            event_type="CanaryChanged",
            actor=actor,
            reason=reason,
            check_version=version,
        )

    def promote(self, model_name: str, *, actor: str, reason: str, alias: str = PRODUCTION) -> dict[str, Any]:
        """Make the canary the production version (the old one becomes the rollback target)."""
        current = self.get_alias(model_name, alias)
        if current is None or not current.get("canary_version"):
            raise DeploymentRefused(f"{model_name} has no canary to promote")
        fields = {"version": current["canary_version"], "previous_version": current["version"]}
        return self._write_alias(
            model_name,
            alias,
            current,
            fields,
            event_type="CanaryPromoted",
            actor=actor,
            reason=reason,
            check_version=current["canary_version"],
        )

    def rollback(self, model_name: str, *, actor: str, reason: str, alias: str = PRODUCTION) -> dict[str, Any]:
        """Undo the last change: drop an active canary, or else move back to the previous version."""
        current = self.get_alias(model_name, alias)
        if current is None:
            raise ModelNotFound(f"model {model_name!r} has no {alias} alias to roll back")
        if current.get("canary_version"):
            fields = {"version": current["version"], "previous_version": current.get("previous_version")}
            return self._write_alias(
                model_name,
                alias,
                current,
                fields,
                event_type="CanaryRolledBack",
                actor=actor,
                reason=reason,
                check_version=None,
            )
        if current.get("previous_version") is None:
            raise NothingToRollBack(f"alias {alias} of {model_name!r} has no previous version to roll back to")
        fields = {"version": current["previous_version"], "previous_version": current["version"]}
        return self._write_alias(
            model_name,
            alias,
            current,
            fields,
            event_type="RolledBack",
            actor=actor,
            reason=reason,
            check_version=current["previous_version"],
        )

    # ---- approvals -----------------------------------------------------------------------------------------
    def _change_status(
        self,
        model_name: str,
        version: int,
        *,
        expected: str,
        status: str,
        fields: dict[str, Any],
        event_type: str,
        actor: str,
        reason: str,
        require_token: bool | None = None,
    ) -> dict[str, Any]:
        """Move a version from ``expected`` to ``status`` (setting ``fields``) with its audit event, atomically."""
        at = now_iso()
        names = {"#status": "status", **{f"#f{i}": name for i, name in enumerate(fields)}}
        values = {
            ":expected": {"S": expected},
            ":status": {"S": status},
            **{f":v{i}": to_item({"v": value})["v"] for i, value in enumerate(fields.values())},
        }
        assignments = ["#status = :status", *(f"#f{i} = :v{i}" for i in range(len(fields)))]
        condition = "#status = :expected"
        if require_token is True:
            condition += " AND attribute_exists(approval_task_token)"
        elif require_token is False:
            condition += " AND attribute_not_exists(approval_task_token)"
        update: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": {"pk": {"S": _model_key(model_name)}, "sk": {"S": _version_key(version)}},
            "UpdateExpression": "SET " + ", ".join(assignments),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if require_token is True:  # the token is spent: it leaves the record with the decision
            update["UpdateExpression"] += " REMOVE approval_task_token"
        try:
            self.dynamodb.transact_write_items(
                TransactItems=[
                    {"Update": update},
                    self._event_put(
                        model_name,
                        event_type,
                        actor=actor,
                        reason=reason,
                        before={"status": expected},
                        after={"status": status, "version": version},
                        at=at,
                    ),
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                current = self.get_version(model_name, version)["status"]
                raise VersionConflict(f"{model_name} v{version} is {current}, not {expected}") from exc
            raise
        return self.get_version(model_name, version)

    def await_approval(self, model_name: str, version: int, task_token: str, *, actor: str) -> dict[str, Any]:
        """Store the paused execution's task token on a PendingApproval version (the API resumes it)."""
        self.get_version(model_name, version)
        return self._change_status(
            model_name,
            version,
            expected=VERSION_PENDING_APPROVAL,
            status=VERSION_PENDING_APPROVAL,
            fields={"approval_task_token": task_token, "approval_requested_at": now_iso()},
            event_type="ApprovalRequested",
            actor=actor,
            reason="the training request requires approval before deployment",
            require_token=False,
        )

    def decide_approval(
        self, model_name: str, version: int, *, approved: bool, actor: str, reason: str
    ) -> tuple[dict[str, Any], str]:
        """Approve or reject a PendingApproval version; return the record and the task token to resume with."""
        record = self.get_version(model_name, version)
        token = record.get("approval_task_token")
        if record["status"] != VERSION_PENDING_APPROVAL or not token:
            raise VersionConflict(f"{model_name} v{version} is {record['status']}, not waiting for approval")
        decision = {"approved": approved, "by": actor, "at": now_iso(), "reason": reason}
        updated = self._change_status(
            model_name,
            version,
            expected=VERSION_PENDING_APPROVAL,
            status=VERSION_APPROVED if approved else VERSION_REJECTED,
            fields={"approval_decision": decision},
            event_type="VersionApproved" if approved else "VersionRejectedByApprover",
            actor=actor,
            reason=reason,
            require_token=True,
        )
        return updated, token

    def expire_approval(self, model_name: str, version: int, *, actor: str) -> dict[str, Any]:
        return self._change_status(
            model_name,
            version,
            expected=VERSION_PENDING_APPROVAL,
            status=VERSION_APPROVAL_EXPIRED,
            fields={"approval_expired_at": now_iso()},
            event_type="ApprovalTimedOut",
            actor=actor,
            reason="no decision before the approval timeout",
        )

    def record_event(
        self, model_name: str, event_type: str, *, actor: str, reason: str, before: Any = None, after: Any = None
    ) -> None:
        self.dynamodb.transact_write_items(
            TransactItems=[
                self._event_put(
                    model_name, event_type, actor=actor, reason=reason, before=before, after=after, at=now_iso()
                )
            ]
        )
