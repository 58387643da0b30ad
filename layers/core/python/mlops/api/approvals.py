"""A person's decision on a version that waits for approval: recorded, then its training run resumed or stopped."""

from __future__ import annotations

import json
from typing import Any

from mlops.governance import cards
from mlops.registry.store import ModelRegistry
from mlops.storage import clients


def decide(
    registry: ModelRegistry, bucket: str, model_name: str, version: int, *, approved: bool, actor: str, reason: str
) -> dict[str, Any]:
    """Record a person's decision on a PendingApproval version, then resume (or stop) its training run."""
    record, token = registry.decide_approval(model_name, version, approved=approved, actor=actor, reason=reason)
    sfn = clients.client("stepfunctions")
    decision = {"approved": approved, "by": actor, "reason": reason}
    if approved:
        sfn.send_task_success(taskToken=token, output=json.dumps(decision))
    else:
        sfn.send_task_failure(taskToken=token, error="ApprovalRejected", cause=reason or "rejected by " + actor)
    cards.write_card(bucket, record, registry.list_events(model_name))  # the decided record, with its decision
    return {"model_name": model_name, "version": version, "status": record.status, "decision": decision}
