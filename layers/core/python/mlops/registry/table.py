"""The registry's DynamoDB tables on the wire: keyed reads, paged queries, audited transactions.

Three tables, one key scheme (``mlops.storage.layout``): versions, run markers and the model counter in the registry
table; aliases in the alias table (only Deploy and the admin API may write it); audit events in the audit table
(insert-only: roles get PutItem on it and nothing else). A transaction may span them, so a change and its event
stay atomic.

Keyed reads and paged queries come from ``mlops.storage.table``, keys from ``mlops.storage.layout``, the item codec
from ``mlops.storage.codec``. Every state change the
registry makes is one ``TransactWriteItems`` that also puts its audit event, so the trail cannot miss a change;
an event is only ever put with ``attribute_not_exists`` (append-only).
"""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import ClientError

from mlops.records.registry import AuditEvent
from mlops.storage import codec, layout
from mlops.storage.table import ModelTable

MAX_WRITE_ATTEMPTS = 20


def cancellation_codes(exc: ClientError) -> list[str]:
    return [reason.get("Code", "") for reason in exc.response.get("CancellationReasons", [])]


def is_cancelled(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "TransactionCanceledException"


class RegistryTable(ModelTable):
    def __init__(self, table_name: str, *, alias_table: str, audit_table: str, dynamodb: Any | None = None) -> None:
        super().__init__(table_name, dynamodb)
        self.alias_table = alias_table
        self.audit_table = audit_table

    def put(
        self, model_name: str, sort_key: str, document: dict[str, Any], *, table: str | None = None, **condition: Any
    ) -> dict[str, Any]:
        """A transaction's Put of ``document`` at the key (``condition``: ConditionExpression and friends) in
        ``table`` (default: the registry table)."""
        item = {"pk": layout.model_pk(model_name), "sk": sort_key, **document}
        return {"Put": {"TableName": table or self.table_name, "Item": codec.to_item(item), **condition}}

    def event_put(
        self,
        model_name: str,
        event_type: str,
        *,
        actor: str,
        reason: str,
        before: Any,
        after: Any,
        at: str,
        details: Any = None,
    ) -> dict[str, Any]:
        """The audit event of a change, as a transaction item. Append-only: an event is only ever created."""
        event = AuditEvent(
            event_id=uuid.uuid4().hex[:12],
            model_name=model_name,
            event_type=event_type,
            actor=actor,
            reason=reason,
            before=before,
            after=after,
            details=details,
            at=at,
        )
        return self.put(
            model_name,
            layout.event_sk(at, event.event_id),
            event.to_stored(),
            table=self.audit_table,
            ConditionExpression="attribute_not_exists(pk)",
        )

    def transact(self, items: list[dict[str, Any]]) -> None:
        self.dynamodb.transact_write_items(TransactItems=items)
