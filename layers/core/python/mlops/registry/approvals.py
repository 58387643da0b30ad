"""The approval state machine of a version: PendingApproval → (token stored) → Approved | Rejected | ApprovalExpired.

Each move is a conditional update of the version's status in one transaction with its audit event; the task token
that resumes the paused execution is stored on the version and removed when it is spent.
"""

from __future__ import annotations

from mlops.errors import SelfApprovalRefused, VersionConflict
from mlops.records.registry import (
    VERSION_APPROVAL_EXPIRED,
    VERSION_APPROVED,
    VERSION_PENDING_APPROVAL,
    VERSION_REJECTED,
    VersionRecord,
)
from mlops.registry.versions import VersionStore
from mlops.storage import codec


class ApprovalOperations(VersionStore):
    def await_approval(self, model_name: str, version: int, task_token: str, *, actor: str) -> VersionRecord:
        """Store the paused execution's task token on a PendingApproval version (the API resumes it)."""
        self.get_version(model_name, version)
        return self.change_status(
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
        """Approve or reject a PendingApproval version; return the record and the task token to resume with.

        Nobody approves a run they requested (``lineage.requested_by``, the caller's IAM identity when the API
        started it): SelfApprovalRefused, nothing written. Rejecting one's own run stays allowed (it is stricter)."""
        record = self.get_version(model_name, version)
        if approved and record.lineage.requested_by == actor:
            raise SelfApprovalRefused(
                f"{model_name} v{version} was requested by {actor}: another identity must approve it"
            )
        token = record.approval_task_token
        if record.status != VERSION_PENDING_APPROVAL or not token:
            raise VersionConflict(f"{model_name} v{version} is {record.status}, not waiting for approval")
        decision = {"approved": approved, "by": actor, "at": codec.now_iso(), "reason": reason}
        updated = self.change_status(
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
        return self.change_status(
            model_name,
            version,
            expected=VERSION_PENDING_APPROVAL,
            status=VERSION_APPROVAL_EXPIRED,
            fields={"approval_expired_at": codec.now_iso()},
            event_type="ApprovalTimedOut",
            actor=actor,
            reason="no decision before the approval timeout",
        )
