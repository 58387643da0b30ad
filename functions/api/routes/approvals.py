"""Approvals: a person approves (resuming its run) or rejects (stopping it) a version that waits in PendingApproval."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict, Field

from mlops.api import approvals
from mlops.settings import ApprovalSettings, Settings

from .conventions import ModelName, Reason, VersionNumber, actor, registry, responses

router = Router()


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500, pattern=r"\S", description="why; recorded in the audit trail")


@router.post(
    "/models/<name>/versions/<version>/approve",
    summary="Approve a PendingApproval version (resumes its run): by a listed approver (ApproverPrincipalArns), never "
    "by the identity that requested the run (an assumed role's sessions are one identity)",
    responses={**responses(403, 404, 409, 422)},
)
def approve(name: ModelName, version: VersionNumber, body: Annotated[Reason | None, Body()] = None) -> dict[str, Any]:
    reason = (body.reason if body else "") or "approved through the admin API"
    return approvals.decide(
        registry(),
        Settings.from_environment().artifacts_bucket,
        name,
        version,
        approved=True,
        actor=actor(router.current_event),
        approvers=ApprovalSettings.from_environment().approver_principals,
        reason=reason,
    )


@router.post(
    "/models/<name>/versions/<version>/reject",
    summary="Reject a PendingApproval version (stops its run): by a listed approver (ApproverPrincipalArns)",
    responses={**responses(403, 404, 409, 422)},
)
def reject(name: ModelName, version: VersionNumber, body: Rejection) -> dict[str, Any]:
    return approvals.decide(
        registry(),
        Settings.from_environment().artifacts_bucket,
        name,
        version,
        approved=False,
        actor=actor(router.current_event),
        approvers=ApprovalSettings.from_environment().approver_principals,
        reason=body.reason,
    )
