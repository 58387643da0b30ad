"""Versions: reads of every registry item as typed records, and the atomic registration of a new version."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mlops.errors import ModelNotFound, VersionConflict
from mlops.records.registry import (
    PRODUCTION,
    VERSION_REJECTED,
    AliasRecord,
    AuditEvent,
    ModelEntry,
    RunMarker,
    VersionContent,
    VersionRecord,
)
from mlops.registry.table import MAX_WRITE_ATTEMPTS, RegistryTable, is_cancelled
from mlops.storage import codec, layout


class VersionStore(RegistryTable):
    # ---- reads -------------------------------------------------------------------------------------------
    def get_model(self, model_name: str) -> ModelEntry:
        item = self.get_item(model_name, layout.MODEL_SK)
        if item is None:
            raise ModelNotFound(f"model {model_name!r} is not registered")
        return ModelEntry.from_item(item)

    def list_models(self) -> list[ModelEntry]:
        models = [ModelEntry.from_item(item) for item in self.scan_sort_key(layout.MODEL_SK)]
        return sorted(models, key=lambda m: m.model_name)

    def get_version(self, model_name: str, version: int) -> VersionRecord:
        item = self.get_item(model_name, layout.version_sk(version))
        if item is None:
            raise ModelNotFound(f"model {model_name!r} has no version {version}")
        return VersionRecord.from_item(item)

    def list_versions(self, model_name: str) -> list[VersionRecord]:
        return [VersionRecord.from_item(item) for item in self.query(model_name, layout.VERSION_PREFIX)]

    def find_versions(
        self,
        model_name: str,
        *,
        tags: dict[str, str | None] | None = None,
        status: str | None = None,
        alias: str | None = None,
    ) -> list[VersionRecord]:
        """The versions that match every filter given: each tag (a value, or ``None`` for any value), the status,
        and the alias (the version it points at; an alias that does not exist matches nothing)."""
        wanted: set[int] | None = None
        if alias is not None:
            record = self.get_alias(model_name, alias)
            wanted = {record.version} if record else set()
        found = []
        for version in self.list_versions(model_name):
            if wanted is not None and version.version not in wanted:
                continue
            if status is not None and version.status != status:
                continue
            if any(
                key not in version.tags or (value is not None and version.tags[key] != value)
                for key, value in (tags or {}).items()
            ):
                continue
            found.append(version)
        return found

    def get_alias(self, model_name: str, alias: str = PRODUCTION) -> AliasRecord | None:
        item = self.get_item(model_name, layout.alias_sk(alias), table=self.alias_table)
        return AliasRecord.from_item(item) if item else None

    def list_aliases(self, model_name: str) -> list[AliasRecord]:
        items = self.query(model_name, layout.ALIAS_PREFIX, table=self.alias_table)
        return [AliasRecord.from_item(item) for item in items]

    def list_events(self, model_name: str) -> list[AuditEvent]:
        items = self.query(model_name, layout.EVENT_PREFIX, table=self.audit_table)
        return [AuditEvent.from_item(item) for item in items]

    def version_for_run(self, model_name: str, run_id: str) -> int | None:
        item = self.get_item(model_name, layout.run_sk(run_id))
        return RunMarker.from_item(item).version if item else None

    # ---- writes ------------------------------------------------------------------------------------------
    def _counter_write(self, model_name: str, current: int, version: int, at: str) -> dict[str, Any]:
        if current == 0:
            entry = ModelEntry(model_name=model_name, latest_version=version, created_at=at, updated_at=at)
            return self.put(
                model_name, layout.MODEL_SK, entry.to_stored(), ConditionExpression="attribute_not_exists(pk)"
            )
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": layout.item_key(model_name, layout.MODEL_SK),
                "UpdateExpression": "SET latest_version = :next, updated_at = :at",
                "ConditionExpression": "latest_version = :current",
                "ExpressionAttributeValues": {
                    ":next": codec.to_value(version),
                    ":current": codec.to_value(current),
                    ":at": codec.to_value(at),
                },
            }
        }

    def register_version(
        self, model_name: str, content: VersionContent, *, status: str, run_id: str, actor: str, reason: str
    ) -> tuple[int, bool]:
        """Allocate the next version atomically and store the record; return (version, newly_created).

        The version counter, the version item, the run marker and the audit event are one transaction, so
        two concurrent registrations never share a version and a retried step never registers twice.
        """
        for _ in range(MAX_WRITE_ATTEMPTS):
            existing = self.version_for_run(model_name, run_id)
            if existing is not None:
                return existing, False
            model = self.get_item(model_name, layout.MODEL_SK)
            current = model["latest_version"] if model else 0
            version = current + 1
            at = codec.now_iso()
            record = VersionRecord(
                **content.model_dump(by_alias=True),
                model_name=model_name,
                version=version,
                status=status,
                run_id=run_id,
                created_at=at,
                created_by=actor,
            )
            event_type = "VersionRejected" if status == VERSION_REJECTED else "VersionRegistered"
            try:
                self.transact(
                    [
                        self._counter_write(model_name, current, version, at),
                        self.put(
                            model_name,
                            layout.version_sk(version),
                            record.to_stored(),
                            ConditionExpression="attribute_not_exists(pk)",
                        ),
                        self.put(
                            model_name,
                            layout.run_sk(run_id),
                            RunMarker(version=version, created_at=at).to_stored(),
                            ConditionExpression="attribute_not_exists(pk)",
                        ),
                        self.event_put(
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
                if is_cancelled(exc):
                    continue  # another writer took this version or registered this run: read again
                raise
            return version, True
        raise VersionConflict(f"could not allocate a version of {model_name!r} after {MAX_WRITE_ATTEMPTS} attempts")

    def change_status(
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
        details: Any = None,
    ) -> VersionRecord:
        """Move a version from ``expected`` to ``status`` (setting ``fields``) with its audit event, atomically.

        ``require_token``: True, the approval task token must be stored (and is removed: it is spent); False, it
        must not be stored yet; None, either."""
        expression, names, values = codec.set_expression({"status": status, **fields})
        names["#status"] = "status"
        values[":expected"] = codec.to_value(expected)
        condition = "#status = :expected"
        if require_token is True:
            condition += " AND attribute_exists(approval_task_token)"
            expression += " REMOVE approval_task_token"  # the token is spent: it leaves with the decision
        elif require_token is False:
            condition += " AND attribute_not_exists(approval_task_token)"
        update = {
            "TableName": self.table_name,
            "Key": layout.item_key(model_name, layout.version_sk(version)),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        try:
            self.transact(
                [
                    {"Update": update},
                    self.event_put(
                        model_name,
                        event_type,
                        actor=actor,
                        reason=reason,
                        before={"status": expected},
                        after={"status": status, "version": version},
                        at=codec.now_iso(),
                        details=details,
                    ),
                ]
            )
        except ClientError as exc:
            if is_cancelled(exc):
                current = self.get_version(model_name, version).status
                raise VersionConflict(f"{model_name} v{version} is {current}, not {expected}") from exc
            raise
        return self.get_version(model_name, version)

    def record_event(
        self, model_name: str, event_type: str, *, actor: str, reason: str, before: Any = None, after: Any = None
    ) -> None:
        self.transact(
            [
                self.event_put(
                    model_name, event_type, actor=actor, reason=reason, before=before, after=after, at=codec.now_iso()
                )
            ]
        )
