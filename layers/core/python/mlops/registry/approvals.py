"""The approval state machine of a version: PendingApproval → (token stored) → Approved | Rejected | ApprovalExpired.

Each move is a conditional update of the version's status in one transaction with its audit event; the task token
that resumes the paused execution is stored on the version and removed when it is spent.

Deciding is a duty IAM can separate: only the stack's approvers (``ApproverPrincipalArns``, any caller when empty)
decide, and never the identity that requested the run, identities compared as IAM grants them
(``mlops.records.identity``: an assumed role's session name is the caller's choice, so the role is the identity).

A decision is committed before the paused run hears of it; if the run cannot be told, ``undo_decision`` puts the
version back to waiting (the run still waits) or ``expire_unreachable`` ends it as expired (the run no longer
waits), so the record and the run never disagree.
"""

from __future__ import annotations

from mlops.errors import ApproverNotListed, SelfApprovalRefused, VersionConflict
from mlops.records.identity import is_listed, normalised_identity, same_identity
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
        self,
        model_name: str,
        version: int,
        *,
        approved: bool,
        actor: str,
        reason: str,
        approvers: tuple[str, ...] = (),
    ) -> tuple[VersionRecord, str]:
        """Approve or reject a PendingApproval version; return the record and the task token to resume with.

        Only a listed approver decides (``approvers``; empty: anyone): ApproverNotListed. Nobody approves a run they
        requested (``lineage.requested_by``, the caller's IAM identity when the API started it), compared once both
        are normalised: SelfApprovalRefused. Nothing is written on a refusal. Rejecting one's own run stays allowed
        to a listed approver (it is stricter). Both normalised identities are recorded on the decision and its
        event."""
        record = self.get_version(model_name, version)
        if approvers and not is_listed(actor, approvers):
            raise ApproverNotListed(
                f"{normalised_identity(actor)} is not one of this stack's approvers (ApproverPrincipalArns): "
                f"it cannot decide on {model_name} v{version}"
            )
        requester = record.lineage.requested_by
        if approved and same_identity(requester, actor):
            raise SelfApprovalRefused(
                f"{model_name} v{version} was requested by {normalised_identity(requester)}: another identity must "
                "approve it (sessions of one role are one identity)"
            )
        token = record.approval_task_token
        if record.status != VERSION_PENDING_APPROVAL or not token:
            raise VersionConflict(f"{model_name} v{version} is {record.status}, not waiting for approval")
        identities = {"requester": normalised_identity(requester), "approver": normalised_identity(actor)}
        decision = {
            "approved": approved,
            "by": identities["approver"],
            "by_arn": actor,
            "requested_by": identities["requester"],
            "at": codec.now_iso(),
            "reason": reason,
        }
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
            details=identities,
        )
        return updated, token

    def undo_decision(self, decided: VersionRecord, token: str, *, actor: str, cause: str) -> VersionRecord:
        """The run did not receive the decision but still waits: the version waits again, with its token."""
        return self.change_status(
            decided.model_name,
            decided.version,
            expected=decided.status,
            status=VERSION_PENDING_APPROVAL,
            fields={"approval_task_token": token, "approval_decision": None},
            event_type="ApprovalDecisionUndone",
            actor=actor,
            reason=f"the paused run did not receive the decision ({cause}); it can be decided again",
            require_token=False,
            details={"undone": decided.approval_decision},
        )

    def expire_unreachable(self, decided: VersionRecord, *, actor: str, cause: str) -> VersionRecord:
        """The run no longer waits (its token timed out or the run ended): the version expires, as its run did."""
        return self.change_status(
            decided.model_name,
            decided.version,
            expected=decided.status,
            status=VERSION_APPROVAL_EXPIRED,
            fields={"approval_expired_at": codec.now_iso()},
            event_type="ApprovalTimedOut",
            actor=actor,
            reason=f"the decision came after the run stopped waiting ({cause})",
            require_token=False,
            details={"late_decision": decided.approval_decision},
        )

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
