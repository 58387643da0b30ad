"""Named aliases and version tags in the registry (moto): each change is audited, refusals write nothing, and
listings filter by tag, status and alias."""

from __future__ import annotations

import threading

import pytest

from mlops.errors import InvalidAliasName, InvalidTag, ModelNotFound
from mlops.records.registry import VERSION_REGISTERED, VERSION_REJECTED
from mlops.registry.store import ModelRegistry
from tests.factories import version_content
from tests.stack_state import stack_state


@pytest.fixture
def registry(stack) -> ModelRegistry:
    registry = stack.registry()
    for run, status in enumerate((VERSION_REGISTERED, VERSION_REGISTERED, VERSION_REJECTED)):
        registry.register_version("m", version_content(), status=status, run_id=f"run-{run}", actor="t", reason="r")
    return registry


def _events(registry: ModelRegistry, *kinds: str) -> list[tuple]:
    return [(e.event_type, e.actor, e.reason, e.before, e.after) for e in registry.list_events("m")
            if e.event_type in kinds]  # fmt: skip


def test_any_named_alias_points_at_its_version_and_is_audited_apart_from_production(registry):
    # Given production on v1; When staging is set to v2, then moved to v1, then removed
    registry.set_alias("m", 1, actor="ops", reason="first")
    registry.set_alias("m", 2, actor="ops", reason="try v2", alias="staging")
    moved = registry.set_alias("m", 1, actor="ops", reason="back", alias="staging")

    # Then staging remembers its own previous version, and production is untouched
    assert (moved.alias, moved.version, moved.previous_version) == ("staging", 1, 2)
    assert {a.alias: a.version for a in registry.list_aliases("m")} == {"production": 1, "staging": 1}
    registry.remove_alias("m", actor="ops", reason="done", alias="staging")
    assert {a.alias: a.version for a in registry.list_aliases("m")} == {"production": 1}
    assert _events(registry, "AliasMoved", "AliasRemoved")[1:] == [
        ("AliasMoved", "ops", "try v2",
         {"alias": "staging", "version": None, "canary_version": None, "canary_weight": None},
         {"alias": "staging", "version": 2, "canary_version": None, "canary_weight": 0.0}),
        ("AliasMoved", "ops", "back",
         {"alias": "staging", "version": 2, "canary_version": None, "canary_weight": 0.0},
         {"alias": "staging", "version": 1, "canary_version": None, "canary_weight": 0.0}),
        ("AliasRemoved", "ops", "done", {"alias": "staging", "version": 1}, {"alias": "staging", "version": None}),
    ]  # fmt: skip


@pytest.mark.parametrize("bad", ["Staging", "1st", "", "a" * 33, "pro_duction", "staging/x", "-x"])
def test_a_bad_alias_name_is_refused_before_anything_is_written(stack, registry, bad):
    before = stack_state(stack)
    with pytest.raises(InvalidAliasName):
        registry.set_alias("m", 1, actor="ops", reason="r", alias=bad)
    with pytest.raises(InvalidAliasName):
        registry.remove_alias("m", actor="ops", reason="r", alias=bad)
    assert stack_state(stack).changes_since(before) == {}


def test_a_rejected_version_cannot_serve_a_named_alias_either(stack, registry):
    before = stack_state(stack)
    with pytest.raises(Exception, match="rejected"):
        registry.set_alias("m", 3, actor="ops", reason="r", alias="staging")
    assert stack_state(stack).changes_since(before) == {}


def test_tags_are_set_and_deleted_on_the_version_record_with_their_audit_events(registry):
    registry.set_tag("m", 2, "stage", "candidate", actor="ops", reason="review")
    registry.set_tag("m", 2, "owner", "risk-team", actor="ops", reason="")
    updated = registry.set_tag("m", 2, "stage", "gold", actor="lead", reason="approved")
    assert updated.tags == {"stage": "gold", "owner": "risk-team"}
    assert registry.get_version("m", 2).tags == {"stage": "gold", "owner": "risk-team"}
    assert registry.get_version("m", 1).tags == {}  # other versions untouched

    # Setting the value a tag already has writes nothing
    events_before = len(registry.list_events("m"))
    registry.set_tag("m", 2, "stage", "gold", actor="lead", reason="again")
    assert len(registry.list_events("m")) == events_before

    assert registry.delete_tag("m", 2, "owner", actor="ops", reason="left").tags == {"stage": "gold"}
    assert _events(registry, "VersionTagSet", "VersionTagDeleted") == [
        ("VersionTagSet", "ops", "review", {"version": 2, "tag": "stage", "value": None},
         {"version": 2, "tag": "stage", "value": "candidate"}),
        ("VersionTagSet", "ops", "", {"version": 2, "tag": "owner", "value": None},
         {"version": 2, "tag": "owner", "value": "risk-team"}),
        ("VersionTagSet", "lead", "approved", {"version": 2, "tag": "stage", "value": "candidate"},
         {"version": 2, "tag": "stage", "value": "gold"}),
        ("VersionTagDeleted", "ops", "left", {"version": 2, "tag": "owner", "value": "risk-team"},
         {"version": 2, "tag": "owner", "value": None}),
    ]  # fmt: skip


def test_tag_refusals_write_nothing(stack, registry):
    before = stack_state(stack)
    with pytest.raises(ModelNotFound):
        registry.delete_tag("m", 1, "absent", actor="ops", reason="r")
    with pytest.raises(ModelNotFound):
        registry.set_tag("m", 9, "stage", "x", actor="ops", reason="r")
    with pytest.raises(InvalidTag):
        registry.set_tag("m", 1, "bad key", "x", actor="ops", reason="r")
    with pytest.raises(InvalidTag):
        registry.set_tag("m", 1, "k", "x" * 501, actor="ops", reason="r")
    assert stack_state(stack).changes_since(before) == {}


def test_concurrent_tag_writes_on_one_version_keep_every_key(registry):
    # Given 8 writers each setting their own key on v1 at the same moment
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def tag(i: int) -> None:
        barrier.wait()
        try:
            registry.set_tag("m", 1, f"k{i}", str(i), actor=f"w{i}", reason="r")
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=tag, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Then no write lost another's key, and each has its event
    assert errors == []
    assert registry.get_version("m", 1).tags == {f"k{i}": str(i) for i in range(8)}
    assert sorted(e.after["tag"] for e in registry.list_events("m") if e.event_type == "VersionTagSet") == [
        f"k{i}" for i in range(8)
    ]


def test_versions_are_found_by_tag_status_and_alias(registry):
    registry.set_alias("m", 1, actor="ops", reason="r")
    registry.set_alias("m", 2, actor="ops", reason="r", alias="staging")
    registry.set_tag("m", 1, "stage", "gold", actor="ops", reason="r")
    registry.set_tag("m", 2, "stage", "silver", actor="ops", reason="r")
    registry.set_tag("m", 3, "audited", "yes", actor="ops", reason="r")

    def found(**filters) -> list[int]:
        return [v.version for v in registry.find_versions("m", **filters)]

    assert found() == [1, 2, 3]
    assert found(tags={"stage": None}) == [1, 2]
    assert found(tags={"stage": "silver"}) == [2]
    assert found(tags={"stage": "gold", "audited": None}) == []
    assert found(status=VERSION_REJECTED) == [3]
    assert found(status=VERSION_REGISTERED, tags={"stage": "gold"}) == [1]
    assert found(alias="staging") == [2]
    assert found(alias="production") == [1]
    assert found(alias="nowhere") == []
