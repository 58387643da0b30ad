"""The registry over DynamoDB (moto): atomic versions, aliases with rollback, append-only audit events."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError

from mlops.errors import DeploymentRefused, ModelNotFound, NothingToRollBack, VersionConflict
from mlops.records.registry import PRODUCTION, VERSION_REGISTERED, VERSION_REJECTED, VersionContent
from mlops.registry.store import ModelRegistry
from tests.factories import version_content


@pytest.fixture
def registry(stack) -> ModelRegistry:
    return stack.registry()


def _record(score: float = 0.9) -> VersionContent:
    return version_content(metrics={"f1": score, "log_loss": 0.25}, params={"C": 1.0})


def _register(registry: ModelRegistry, run_id: str, status: str = VERSION_REGISTERED, model: str = "m") -> int:
    version, _ = registry.register_version(model, _record(), status=status, run_id=run_id, actor="test", reason="r")
    return version


def test_first_registration_creates_model_version_and_event(registry):
    version, created = registry.register_version(
        "churn", _record(0.91), status=VERSION_REGISTERED, run_id="run-1", actor="pipeline:run-1", reason="gate ok"
    )

    assert (version, created) == (1, True)
    record = registry.get_version("churn", 1)
    assert record.status == VERSION_REGISTERED
    assert record.metrics == {"f1": 0.91, "log_loss": 0.25}  # floats survive the Decimal round trip
    assert isinstance(record.metrics["f1"], float)
    assert registry.get_model("churn").latest_version == 1
    events = registry.list_events("churn")
    assert [(e.event_type, e.actor, e.after) for e in events] == [
        ("VersionRegistered", "pipeline:run-1", {"version": 1, "status": VERSION_REGISTERED})
    ]


def test_versions_increase_and_rejected_ones_are_recorded(registry):
    assert [
        _register(registry, f"run-{i}", status)
        for i, status in enumerate([VERSION_REGISTERED, VERSION_REJECTED, VERSION_REGISTERED])
    ] == [1, 2, 3]
    assert [v.status for v in registry.list_versions("m")] == [
        VERSION_REGISTERED,
        VERSION_REJECTED,
        VERSION_REGISTERED,
    ]
    assert [e.event_type for e in registry.list_events("m")] == [
        "VersionRegistered",
        "VersionRejected",
        "VersionRegistered",
    ]


def test_a_retried_registration_of_the_same_run_returns_the_same_version(registry):
    first = registry.register_version("m", _record(), status=VERSION_REGISTERED, run_id="run-x", actor="a", reason="r")
    again = registry.register_version("m", _record(), status=VERSION_REGISTERED, run_id="run-x", actor="a", reason="r")

    assert first == (1, True)
    assert again == (1, False)
    assert len(registry.list_versions("m")) == 1
    assert len(registry.list_events("m")) == 1


def test_concurrent_registrations_never_share_a_version(registry):
    # Given 12 registrations of one model started at the same moment
    barrier = threading.Barrier(12)
    versions: list[int] = []
    errors: list[BaseException] = []

    def register(run: int) -> None:
        try:
            barrier.wait(timeout=10)
            versions.append(_register(registry, f"run-{run}"))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # Then each got its own version, with no gap, and the counter agrees
    assert errors == []
    assert sorted(versions) == list(range(1, 13))
    assert registry.get_model("m").latest_version == 12
    assert sorted(v.run_id for v in registry.list_versions("m")) == sorted(f"run-{i}" for i in range(12))


def test_alias_moves_keep_the_previous_version_and_rollback_returns_to_it(registry):
    for run in ("a", "b"):
        _register(registry, run)
    first = registry.set_alias("m", 1, actor="deployer", reason="initial")
    second = registry.set_alias("m", 2, actor="deployer", reason="better")

    assert first.previous_version is None
    assert second.previous_version == 1
    rolled_back = registry.rollback("m", actor="oncall", reason="bad latency")
    assert rolled_back.version == 1
    assert rolled_back.previous_version == 2
    assert registry.get_alias("m", PRODUCTION).version == 1
    moves = [
        (e.event_type, e.before["version"], e.after["version"], e.actor)
        for e in registry.list_events("m")
        if e.event_type in {"AliasMoved", "RolledBack"}
    ]
    assert moves == [
        ("AliasMoved", None, 1, "deployer"),
        ("AliasMoved", 1, 2, "deployer"),
        ("RolledBack", 2, 1, "oncall"),
    ]


def test_alias_move_with_a_stale_expectation_is_a_conflict_and_changes_nothing(registry):
    for run in ("a", "b", "c"):
        _register(registry, run)
    registry.set_alias("m", 1, actor="x", reason="r")

    with pytest.raises(VersionConflict, match="points at v1, not v2"):
        registry.set_alias("m", 3, actor="x", reason="r", expected_version=2, check_expected=True)
    assert registry.get_alias("m").version == 1
    assert sum(e.event_type == "AliasMoved" for e in registry.list_events("m")) == 1


def test_rejected_and_unknown_versions_cannot_be_deployed(registry):
    _register(registry, "a", VERSION_REJECTED)

    with pytest.raises(DeploymentRefused, match="rejected"):
        registry.set_alias("m", 1, actor="x", reason="r")
    with pytest.raises(ModelNotFound, match="no version 7"):
        registry.set_alias("m", 7, actor="x", reason="r")
    assert registry.get_alias("m") is None


def test_a_canary_splits_then_promotes_or_rolls_back(registry):
    for run in ("a", "b", "c"):
        _register(registry, run)
    registry.set_alias("m", 1, actor="x", reason="first")

    canary = registry.set_canary("m", 2, 0.25, actor="x", reason="try v2")
    assert (canary.version, canary.canary_version, canary.canary_weight) == (1, 2, 0.25)
    # rollback with an active canary drops the canary and leaves production alone
    dropped = registry.rollback("m", actor="oncall", reason="errors")
    assert (dropped.version, dropped.canary_version) == (1, None)

    registry.set_canary("m", 3, 0.1, actor="x", reason="try v3")
    promoted = registry.promote("m", actor="x", reason="healthy")
    assert (promoted.version, promoted.previous_version, promoted.canary_version) == (3, 1, None)
    back = registry.rollback("m", actor="oncall", reason="regression")
    assert (back.version, back.previous_version) == (1, 3)
    assert [e.event_type for e in registry.list_events("m")][-5:] == [
        "CanaryChanged",
        "CanaryRolledBack",
        "CanaryChanged",
        "CanaryPromoted",
        "RolledBack",
    ]


def test_canary_refusals(registry):
    for run in ("a", "b"):
        _register(registry, run)
    _register(registry, "c", VERSION_REJECTED)
    with pytest.raises(DeploymentRefused, match="deploy one before a canary"):
        registry.set_canary("m", 2, 0.5, actor="x", reason="r")
    registry.set_alias("m", 1, actor="x", reason="r")
    with pytest.raises(DeploymentRefused, match="already serves"):
        registry.set_canary("m", 1, 0.5, actor="x", reason="r")
    with pytest.raises(DeploymentRefused, match="rejected"):
        registry.set_canary("m", 3, 0.5, actor="x", reason="r")
    with pytest.raises(ValueError, match="between 0 and 1"):
        registry.set_canary("m", 2, 1.0, actor="x", reason="r")
    with pytest.raises(DeploymentRefused, match="no canary"):
        registry.promote("m", actor="x", reason="r")
    assert registry.get_alias("m").canary_version is None


def test_a_stale_alias_write_is_refused_and_changes_nothing(registry):
    for run in ("a", "b", "c"):
        _register(registry, run)
    registry.set_alias("m", 1, actor="x", reason="r")
    stale = registry.get_alias("m")
    registry.set_alias("m", 2, actor="y", reason="someone else moved it")

    with pytest.raises(VersionConflict, match="changed concurrently"):
        registry._write_alias(
            "m",
            PRODUCTION,
            stale,
            {"version": 3, "previous_version": 1},
            event_type="AliasMoved",
            actor="x",
            reason="late",
            check_version=3,
        )
    assert registry.get_alias("m").version == 2


def test_rollback_without_history_is_refused(registry):
    _register(registry, "a")
    registry.set_alias("m", 1, actor="x", reason="r")
    with pytest.raises(NothingToRollBack, match="no previous version"):
        registry.rollback("m", actor="x", reason="r")


def test_unknown_model_and_listing(registry):
    with pytest.raises(ModelNotFound):
        registry.get_model("nope")
    _register(registry, "a", model="zeta")
    _register(registry, "b", model="alpha")
    assert [m.model_name for m in registry.list_models()] == ["alpha", "zeta"]


def test_non_finite_numbers_are_refused_before_anything_is_written(registry):
    with pytest.raises(ValueError, match="not JSON compliant"):
        registry.register_version(
            "m",
            version_content(metrics={"f1": float("nan")}),
            status=VERSION_REGISTERED,
            run_id="r",
            actor="a",
            reason="r",
        )
    with pytest.raises(ModelNotFound):
        registry.get_model("m")


def test_an_audit_event_cannot_be_overwritten(registry):
    # Given an event written through the registry's own code path
    _register(registry, "run-a")
    event = registry.list_events("m")[0]
    # When the same key is put again through that path, the transaction is refused and the event is unchanged
    put = registry.event_put("m", "Tampered", actor="x", reason="x", before=None, after=None, at=event.at)
    put["Put"]["Item"]["sk"] = {"S": f"EVENT#{event.at}#{event.event_id}"}
    with pytest.raises(ClientError, match="TransactionCanceled"):
        registry.transact([put])
    assert registry.list_events("m") == [event]
