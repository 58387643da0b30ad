"""Approvals as an IAM-separated duty: identities decided the way IAM decides them, an approver list, and a decision
that the registry and the paused run always agree on (the resume call failing included)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlops.api import approvals
from mlops.errors import ApproverNotListed, SelfApprovalRefused, VersionConflict
from mlops.records.identity import is_listed, normalised_identity, same_identity
from mlops.records.registry import Lineage, VersionContent
from mlops.registry.store import ModelRegistry
from mlops.settings import ApprovalSettings, MissingSetting
from mlops.storage import clients
from tests.factories import version_content

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/DataScientist"
SESSION_A = f"arn:aws:sts::{ACCOUNT}:assumed-role/DataScientist/a"
SESSION_B = f"arn:aws:sts::{ACCOUNT}:assumed-role/DataScientist/b"
APPROVER_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/ModelApprover/alice"
SSO_ALICE = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Approver_0123abcd/alice@example.com"
SSO_BOB = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Approver_0123abcd/bob@example.com"
SSO_ROLE = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Approver_0123abcd"


# ---- identities ----------------------------------------------------------------------------------------------------
def test_an_assumed_role_session_is_the_role_and_an_identity_center_session_is_its_user():
    assert normalised_identity(SESSION_A) == ROLE
    assert normalised_identity("arn:aws-cn:sts::123456789012:assumed-role/R/s") == "arn:aws-cn:iam::123456789012:role/R"
    assert normalised_identity(SSO_ALICE) == SSO_ALICE  # the session name is the signed-in user, set by Identity Center
    assert normalised_identity(f"arn:aws:iam::{ACCOUNT}:user/carol") == f"arn:aws:iam::{ACCOUNT}:user/carol"

    assert same_identity(SESSION_A, SESSION_B)
    assert same_identity(SESSION_A, f"arn:aws:iam::{ACCOUNT}:role/team/DataScientist")  # a role's path is not its name
    assert not same_identity(SSO_ALICE, SSO_BOB)
    assert not same_identity(SESSION_A, "arn:aws:sts::999999999999:assumed-role/DataScientist/a")


def test_a_listed_role_admits_its_sessions_and_an_identity_center_role_each_of_its_users():
    assert is_listed(APPROVER_SESSION, (f"arn:aws:iam::{ACCOUNT}:role/ModelApprover",))
    assert is_listed(SSO_BOB, (SSO_ROLE,))
    assert is_listed(SSO_BOB, (SSO_BOB,))
    assert not is_listed(SSO_BOB, (SSO_ALICE,))
    assert not is_listed(SESSION_A, (f"arn:aws:iam::{ACCOUNT}:role/ModelApprover",))


def test_the_approver_list_is_read_once_and_an_entry_that_is_no_arn_fails_at_start(monkeypatch):
    monkeypatch.setenv("APPROVER_PRINCIPAL_ARNS", f" {ROLE} ,{SSO_ROLE}")
    assert ApprovalSettings.from_environment().approver_principals == (ROLE, SSO_ROLE)
    monkeypatch.setenv("APPROVER_PRINCIPAL_ARNS", "")
    assert ApprovalSettings.from_environment().approver_principals == ()
    monkeypatch.setenv("APPROVER_PRINCIPAL_ARNS", "alice")
    with pytest.raises(MissingSetting, match="APPROVER_PRINCIPAL_ARNS"):
        ApprovalSettings.from_environment()
    monkeypatch.delenv("APPROVER_PRINCIPAL_ARNS")
    with pytest.raises(MissingSetting):
        ApprovalSettings.from_environment()


# ---- decisions -----------------------------------------------------------------------------------------------------
@pytest.fixture
def registry(stack) -> ModelRegistry:
    return stack.registry()


def _pending(registry: ModelRegistry, requested_by: str, token: str = "token-1") -> int:
    lineage = Lineage(
        dataset_uri="s3://bucket/data.csv",
        data_sha256="ef" * 32,
        rows=100,
        split={"seed": 42},
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:TrainingPipeline:run-1",
        run_id="run-1",
        requested_by=requested_by,
    )
    content: VersionContent = version_content(lineage=lineage)
    version, _ = registry.register_version(
        "m", content, status="PendingApproval", run_id="run-1", actor="pipeline:run-1", reason="needs approval"
    )
    registry.await_approval("m", version, token, actor="pipeline:run-1")
    return version


def test_another_session_of_the_requesting_role_cannot_approve(registry):
    version = _pending(registry, requested_by=SESSION_A)
    before = registry.list_events("m")

    with pytest.raises(SelfApprovalRefused, match="DataScientist"):
        registry.decide_approval("m", version, approved=True, actor=SESSION_B, reason="looks fine to me")

    assert registry.get_version("m", version).status == "PendingApproval"
    assert registry.list_events("m") == before


def test_a_caller_outside_the_approver_list_can_neither_approve_nor_reject(registry):
    version = _pending(registry, requested_by=SESSION_A)
    approvers = (f"arn:aws:iam::{ACCOUNT}:role/ModelApprover",)

    for approved in (True, False):
        with pytest.raises(ApproverNotListed, match="ApproverPrincipalArns"):
            registry.decide_approval(
                "m", version, approved=approved, actor=f"arn:aws:iam::{ACCOUNT}:user/mallory", reason="r",
                approvers=approvers,
            )  # fmt: skip
    assert registry.get_version("m", version).status == "PendingApproval"


def test_an_approval_records_both_normalised_identities_on_the_version_and_the_event(registry):
    version = _pending(registry, requested_by=SESSION_A)

    record, token = registry.decide_approval(
        "m",
        version,
        approved=True,
        actor=APPROVER_SESSION,
        reason="reviewed the card",
        approvers=(f"arn:aws:iam::{ACCOUNT}:role/ModelApprover",),
    )

    assert token == "token-1"
    decision = record.approval_decision or {}
    assert (decision["requested_by"], decision["by"], decision["by_arn"]) == (
        ROLE,
        f"arn:aws:iam::{ACCOUNT}:role/ModelApprover",
        APPROVER_SESSION,
    )
    event = registry.list_events("m")[-1]
    assert event.event_type == "VersionApproved"
    assert event.details == {"requester": ROLE, "approver": f"arn:aws:iam::{ACCOUNT}:role/ModelApprover"}


# ---- the registry and the run agree --------------------------------------------------------------------------------
class FailingStepFunctions:
    """A Step Functions client whose task calls fail with ``code`` (every other call is not expected)."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.calls: list[str] = []

    def _fail(self, operation: str, **_: Any) -> None:
        self.calls.append(operation)
        raise ClientError({"Error": {"Code": self.code, "Message": "injected"}}, operation)

    def send_task_success(self, **kwargs: Any) -> None:
        self._fail("SendTaskSuccess", **kwargs)

    def send_task_failure(self, **kwargs: Any) -> None:
        self._fail("SendTaskFailure", **kwargs)


def _reach(monkeypatch: pytest.MonkeyPatch, sfn: FailingStepFunctions) -> None:
    real = clients.client
    reach = SimpleNamespace(client=lambda service: sfn if service == "stepfunctions" else real(service))
    monkeypatch.setattr(approvals, "clients", reach)


@pytest.mark.parametrize("approved", [True, False])
def test_a_decision_the_run_did_not_receive_is_undone_and_can_be_made_again(stack, registry, monkeypatch, approved):
    # Given a pending version and a Step Functions that cannot be reached (throttled)
    version = _pending(registry, requested_by=SESSION_A)
    failing = FailingStepFunctions("ThrottlingException")
    _reach(monkeypatch, failing)

    # When a person decides
    with pytest.raises(ClientError):
        approvals.decide(registry, stack.bucket, "m", version, approved=approved, actor=APPROVER_SESSION, reason="r")

    # Then the version waits again, with its token, and the trail says the decision did not reach the run
    record = registry.get_version("m", version)
    assert (record.status, record.approval_task_token) == ("PendingApproval", "token-1")
    assert [e.event_type for e in registry.list_events("m")][-2:] == [
        "VersionApproved" if approved else "VersionRejectedByApprover",
        "ApprovalDecisionUndone",
    ]
    assert failing.calls == ["SendTaskSuccess" if approved else "SendTaskFailure"]


def test_a_decision_on_a_run_that_no_longer_waits_leaves_the_version_expired(stack, registry, monkeypatch):
    # Given the run's wait already ended (the token timed out) but the version still holds its token
    version = _pending(registry, requested_by=SESSION_A)
    _reach(monkeypatch, FailingStepFunctions("TaskTimedOut"))

    with pytest.raises(VersionConflict, match="no longer waits"):
        approvals.decide(registry, stack.bucket, "m", version, approved=True, actor=APPROVER_SESSION, reason="r")

    # Then the version is what the run says it is: expired, never Approved without a run to deploy it
    record = registry.get_version("m", version)
    assert (record.status, record.approval_task_token) == ("ApprovalExpired", None)
    with pytest.raises(VersionConflict):
        registry.decide_approval("m", version, approved=True, actor=APPROVER_SESSION, reason="again")
