"""A person's decision on a version that waits for approval: recorded, then its training run resumed or stopped.

The decision is committed first (so two deciders cannot both win), then sent to the run. If the run cannot be told,
the record follows the run: back to PendingApproval with its token when the run still waits (the call failed; decide
again), ApprovalExpired when it no longer does (VersionConflict)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from mlops.errors import VersionConflict
from mlops.governance import cards
from mlops.registry.store import ModelRegistry
from mlops.storage import clients

# The paused run is gone: its wait timed out, the run ended, or the token is not one Step Functions knows.
RUN_NO_LONGER_WAITS = ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken")


def decide(
    registry: ModelRegistry,
    bucket: str,
    model_name: str,
    version: int,
    *,
    approved: bool,
    actor: str,
    reason: str,
    approvers: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Record a person's decision on a PendingApproval version (a listed approver's, ``approvers`` empty: anyone's
    but the requester's for an approval), then resume (or stop) its training run."""
    record, token = registry.decide_approval(
        model_name, version, approved=approved, actor=actor, reason=reason, approvers=approvers
    )
    decision = {"approved": approved, "by": (record.approval_decision or {}).get("by", actor), "reason": reason}
    sfn = clients.client("stepfunctions")
    try:
        if approved:
            sfn.send_task_success(taskToken=token, output=json.dumps(decision))
        else:
            sfn.send_task_failure(taskToken=token, error="ApprovalRejected", cause=reason or "rejected by " + actor)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in RUN_NO_LONGER_WAITS:
            registry.expire_unreachable(record, actor=actor, cause=code)
            raise VersionConflict(
                f"{model_name} v{version}: its run no longer waits for a decision ({code}); the version is expired"
            ) from exc
        registry.undo_decision(record, token, actor=actor, cause=code)
        raise
    cards.write_card(bucket, record, registry.list_events(model_name))  # the decided record, with its decision
    return {"model_name": model_name, "version": version, "status": record.status, "decision": decision}
