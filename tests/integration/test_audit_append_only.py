"""The audit trail is append-only where it is enforced: in the writes DynamoDB receives.

Every PutItem, UpdateItem, DeleteItem, BatchWriteItem and TransactWriteItems request that reaches (moto's)
DynamoDB is recorded, with whether each key existed just before, while a whole story runs through the API and
the state machines: pipeline runs with deployment, a challenger the gate rejects, an approval and a rejection, a
canary, a promotion and a rollback, predictions, feedback, a reproduction and a drift check. Then:

- no request ever wrote an existing EVENT# item: events are only Put, each guarded by attribute_not_exists;
- every change of a version's status and every alias move was in a transaction with an EVENT# Put;
- the events stored at the end are exactly the ones put, unchanged;
- an attempt to overwrite an event through the registry's own code path fails and changes nothing.

And, from the template as SAM translates it: the roles that record events hold only PutItem on the audit table (no
role may update or delete an event), and no role may delete a version.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.responses import DynamoHandler

from local.runs.monitoring import run_drift_check
from local.stack import LocalStack
from local.template import ROOT, load_template
from mlops.errors import VersionConflict
from mlops.registry import table
from mlops.storage import codec, layout
from tests.api_story import MODEL, STORY_PARAMETERS, Api, run_story
from tools.check_template import translate

pytestmark = pytest.mark.integration
STORY_EVENT_TYPES = {
    "VersionRegistered",
    "AliasMoved",
    "VersionRejected",
    "ApprovalRequested",
    "VersionApproved",
    "VersionRejectedByApprover",
    "CanaryChanged",
    "CanaryPromoted",
    "RolledBack",
}
WRITE_OPERATIONS = ("put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items")


@dataclass
class Write:
    kind: str  # Put, Update, Delete, ConditionCheck
    table: str
    key: tuple[str, str]
    condition: str | None
    existed_before: bool
    item: dict[str, Any] | None = None  # a Put's item


@dataclass
class Request:
    operation: str
    writes: list[Write]
    succeeded: bool = False


@dataclass
class WriteRecorder:
    """Wraps moto's DynamoDB request handlers: what every client (handlers, state machines' tasks) sent."""

    requests: list[Request] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _writes(self, handler: DynamoHandler, operation: str, body: dict[str, Any]) -> list[Write]:
        if operation == "transact_write_items":
            entries = [(kind, spec) for entry in body["TransactItems"] for kind, spec in entry.items()]
        elif operation == "batch_write_item":
            entries = [
                ("Put" if "PutRequest" in request else "Delete", {"TableName": table, **next(iter(request.values()))})
                for table, requests in body["RequestItems"].items()
                for request in requests
            ]
        else:
            kind = {"put_item": "Put", "update_item": "Update", "delete_item": "Delete"}[operation]
            entries = [(kind, body)]
        writes = []
        for kind, spec in entries:
            attributes = spec.get("Item") or spec["Key"]
            key = {"pk": attributes["pk"], "sk": attributes["sk"]}
            existing = handler.dynamodb_backend.get_item(spec["TableName"], key)
            writes.append(
                Write(
                    kind=kind,
                    table=spec["TableName"],
                    key=(key["pk"]["S"], key["sk"]["S"]),
                    condition=spec.get("ConditionExpression"),
                    existed_before=existing is not None,
                    item=spec.get("Item"),
                )
            )
        return writes

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        recorder = self
        for operation in WRITE_OPERATIONS:
            original = getattr(DynamoHandler, operation)

            def recorded(handler: DynamoHandler, _original=original, _operation=operation) -> Any:
                request = Request(_operation, recorder._writes(handler, _operation, handler.body))
                with recorder._lock:
                    recorder.requests.append(request)
                result = _original(handler)  # raises on a failed condition: the request stays unsucceeded
                request.succeeded = True
                return result

            monkeypatch.setattr(DynamoHandler, operation, recorded)


def _is_event(write: Write) -> bool:
    return write.key[1].startswith("EVENT#")


@pytest.fixture(scope="module")
def told():
    """One story for the module's checks (it trains four versions): the stack, and every write it made."""
    with pytest.MonkeyPatch.context() as patch, LocalStack(parameters=STORY_PARAMETERS) as local_stack:
        for name, value in local_stack.environment().items():
            patch.setenv(name, value)
        recording = WriteRecorder()
        recording.install(patch)
        api = Api(local_stack)
        try:
            run_story(local_stack, api)
        finally:
            api.close()
        drift = run_drift_check(local_stack, MODEL, timeout_s=180)
        assert drift.status == "SUCCEEDED", (drift.error, drift.cause)
        yield local_stack, recording


@pytest.fixture
def stack(told):
    return told[0]


@pytest.fixture
def recorder(told):
    return told[1]


def test_no_write_in_a_whole_story_touches_an_existing_event(stack, recorder):
    tables = {stack.table, stack.alias_table, stack.audit_table}
    registry_writes = [(r, w) for r in recorder.requests for w in r.writes if w.table in tables]
    event_writes = [(r, w) for r, w in registry_writes if _is_event(w)]
    kinds = {w.item["event_type"]["S"] for r, w in event_writes if r.succeeded}
    assert kinds >= STORY_EVENT_TYPES, kinds  # the story made every kind of change the registry records
    for request, write in event_writes:
        assert write.table == stack.audit_table, write  # events live in the insert-only audit table
        assert (write.kind, write.condition) == ("Put", "attribute_not_exists(pk)"), (request.operation, write)
        assert request.operation == "transact_write_items", request.operation
        assert not (request.succeeded and write.existed_before), write  # no successful write over an event
    assert not [w for _, w in registry_writes if w.kind == "Delete" and w.table != stack.alias_table], (
        "the story deleted registry items"
    )

    # Then the events stored are exactly the ones put, attribute for attribute.
    put = {w.key: w.item for r, w in event_writes if r.succeeded}
    stored = {
        (item["pk"]["S"], item["sk"]["S"]): item
        for page in stack.client("dynamodb").get_paginator("scan").paginate(TableName=stack.audit_table)
        for item in page["Items"]
    }
    assert stored == put


def test_every_status_change_and_alias_move_is_written_with_its_event(stack, recorder):
    state_changes = 0
    for request in recorder.requests:
        for write in request.writes:
            if write.table not in (stack.table, stack.alias_table) or write.kind == "ConditionCheck":
                continue
            sort_key = write.key[1]
            if not sort_key.startswith(("VERSION#", "ALIAS#")):
                continue
            # A version's status or an alias only changes inside a transaction that also appends its event.
            assert request.operation == "transact_write_items", (request.operation, write)
            events = [w for w in request.writes if _is_event(w) and w.key[0] == write.key[0] and w.kind == "Put"]
            assert len(events) == 1, (write, request.writes)
            state_changes += request.succeeded
    assert state_changes >= 12, state_changes  # registrations, approvals, deployments, canary, promote, rollback

    # And each stored event names a change the story made, with who made it.
    events = stack.registry().list_events(MODEL)
    assert all(event.actor and event.event_type for event in events), events


def test_the_registry_cannot_overwrite_an_event_even_through_its_own_code(stack, recorder, monkeypatch):
    # Given a stored event, and the registry made to mint that event's own sort key (same time, same id);
    registry = stack.registry()
    target = registry.list_events(MODEL)[-1]
    alias_before = registry.get_alias(MODEL)
    monkeypatch.setattr(codec, "now_iso", lambda: target.at)
    monkeypatch.setattr(table.uuid, "uuid4", lambda: uuid.UUID(hex=target.event_id + "0" * 20))

    # When it records an event, or moves the alias (whose event would land on the same key);
    with pytest.raises(ClientError) as recorded:
        registry.record_event(MODEL, "Forged", actor="attacker", reason="overwrite", after={"forged": True})
    with pytest.raises(VersionConflict):
        registry.rollback(MODEL, actor="attacker", reason="overwrite the trail")

    # Then both writes are refused by DynamoDB, the event is as it was, and the alias did not move.
    assert "ConditionalCheckFailed" in str(recorded.value), recorded.value
    assert registry.list_events(MODEL)[-1] == target
    assert registry.get_alias(MODEL) == alias_before
    forged = [
        r
        for r in recorder.requests
        if any(w.key == (layout.model_pk(MODEL), layout.event_sk(target.at, target.event_id)) for w in r.writes)
    ]
    assert len(forged) >= 2 and not any(r.succeeded for r in forged[-2:]), forged


# ---- IAM: who may write the audit trail and the versions (the whole matrix: tests/contract/test_iam_matrix.py) -----
def _statements(value: Any):
    if isinstance(value, dict):
        if "Action" in value and "Effect" in value:
            yield value
            return
        for inner in value.values():
            yield from _statements(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _statements(inner)


def _table_actions(monkeypatch: pytest.MonkeyPatch, table_logical_id: str) -> dict[str, set[str]]:
    """Role -> the dynamodb actions its policies allow on a table (SAM policy templates expanded)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    translated = translate(load_template(), ROOT)
    actions: dict[str, set[str]] = {}
    for logical_id, resource in translated["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        allowed: set[str] = set()
        for statement in _statements(resource["Properties"].get("Policies", [])):
            if statement["Effect"] != "Allow" or f'"{table_logical_id}"' not in json.dumps(statement.get("Resource")):
                continue
            listed = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            allowed |= {a.removeprefix("dynamodb:") for a in listed if a.startswith("dynamodb:")}
        actions[logical_id.removesuffix("Role")] = allowed
    return actions


def test_iam_keeps_the_trail_insert_only_and_no_role_deletes_a_version(monkeypatch):
    audit = _table_actions(monkeypatch, "AuditTable")
    registry = _table_actions(monkeypatch, "RegistryTable")
    readers = {"GetItem", "BatchGetItem", "Query", "Scan", "DescribeTable", "ConditionCheckItem"}
    # Every role that records events may only add them: no UpdateItem, DeleteItem or BatchWriteItem on the trail
    assert {role: allowed - readers for role, allowed in audit.items() if allowed - readers} == dict.fromkeys(
        (
            "ApiFunction",
            "ApprovalFunction",
            "DeployFunction",
            "DriftFunction",
            "RecordFailureFunction",
            "RegisterFunction",
            "ReproduceFunction",
        ),
        {"PutItem"},
    )
    # and no role may delete (or batch-write) a version, a run marker or the model's counter
    assert not {role for role, allowed in registry.items() if allowed & {"DeleteItem", "BatchWriteItem"}}


def test_the_predict_and_evaluate_roles_only_read_the_registry(monkeypatch):
    actions = _table_actions(monkeypatch, "RegistryTable")
    for role in ("PredictFunction", "EvaluateFunction"):
        assert actions[role], role  # they do read it
        assert actions[role] <= {"GetItem", "BatchGetItem", "Query", "Scan", "DescribeTable"}, actions[role]
