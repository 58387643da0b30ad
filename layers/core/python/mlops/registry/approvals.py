"""The approval state machine of a version: PendingApproval → (token stored) → Approved | Rejected | ApprovalExpired.

Each move is a conditional update of the version's status in one transaction with its audit event; the task token
that resumes the paused execution is stored on the version and removed when it is spent.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mlops.errors import VersionConflict
from mlops.registry.records import (
    VERSION_APPROVAL_EXPIRED,
    VERSION_APPROVED,
    VERSION_PENDING_APPROVAL,
    VERSION_REJECTED,
    VersionRecord,
)
from mlops.registry.table import is_cancelled
from mlops.registry.versions import VersionStore
from mlops.storage import codec, layout


class ApprovalOperations(VersionStore):
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
    ) -> VersionRecord:
        """Move a version from ``expected`` to ``status`` (setting ``fields``) with its audit event, atomically."""
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
                    ),
                ]
            )
        except ClientError as exc:
            if is_cancelled(exc):
                current = self.get_version(model_name, version).status
                raise VersionConflict(f"{model_name} v{version} is {current}, not {expected}") from exc
            raise
        return self.get_version(model_name, version)

    def await_approval(self, model_name: str, version: int, task_token: str, *, actor: str) -> VersionRecord:
        """Store the paused execution's task token on a PendingApproval version (the API resumes it)."""
        self.get_version(model_name, version)
        return self._change_status(
            model_name,
            version,
            expected=VERSION_PENDING_APPROVAL,
            status=VERSION_PENDING_APPROVAL,
            fields={"approval_task_token": task_token, "approval_requested_at": codec.now_iso()},
            event_type="ApprovalRequested",
            actor=actor,
            reason="the training request requires approval before deployment",
            require_token=False,
        )

    def decide_approval(
        self, model_name: str, version: int, *, approved: bool, actor: str, reason: str
    ) -> tuple[VersionRecord, str]:
        """Approve or reject a PendingApproval version; return the record and the task token to resume with."""
        record = self.get_version(model_name, version)
        token = record.approval_task_token
        if record.status != VERSION_PENDING_APPROVAL or not token:
            raise VersionConflict(f"{model_name} v{version} is {record.status}, not waiting for approval")
        decision = {"approved": approved, "by": actor, "at": codec.now_iso(), "reason": reason}
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

    def expire_approval(self, model_name: str, version: int, *, actor: str) -> VersionRecord:
        return self._change_status(
            model_name,
            version,
            expected=VERSION_PENDING_APPROVAL,
            status=VERSION_APPROVAL_EXPIRED,
            fields={"approval_expired_at": codec.now_iso()},
            event_type="ApprovalTimedOut",
            actor=actor,
            reason="no decision before the approval timeout",
        )
