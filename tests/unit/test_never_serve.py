"""Versions that must never serve, never serve: every alias move is conditional on the deployable rule in its own
transaction, promote and rollback included, and the predict path refuses a version that is no longer deployable."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mlops.errors import DeploymentRefused
from mlops.governance.failed_runs import reconcile_failed_run
from mlops.records.registry import (
    DEPLOYABLE_STATUSES,
    PRODUCTION,
    VERSION_ABANDONED,
    VERSION_APPROVAL_EXPIRED,
    VERSION_PENDING_APPROVAL,
    VERSION_REGISTERED,
)
from mlops.registry.store import ModelRegistry
from mlops.serving.cache import ModelCache, VersionNotDeployable
from tests.factories import version_content

NEVER_SERVE = (VERSION_ABANDONED, VERSION_APPROVAL_EXPIRED, VERSION_PENDING_APPROVAL)


@pytest.fixture
def registry(stack) -> ModelRegistry:
    return stack.registry()


def _register(registry: ModelRegistry, run_id: str) -> int:
    version, _ = registry.register_version(
        "m", version_content(), status=VERSION_REGISTERED, run_id=run_id, actor="test", reason="r"
    )
    return version


def _force_status(registry: ModelRegistry, version: int, status: str) -> None:
    """The version's status changed by another writer (a failed run's RecordFailure, an approval timeout)."""
    current = registry.get_version("m", version).status
    registry.change_status(
        "m", version, expected=current, status=status, fields={}, event_type="StatusChanged", actor="t", reason="r"
    )


def _unchecked(registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    """The read-time check passes (it read the version before its status changed): only the transaction guards."""
    monkeypatch.setattr(registry, "deployable", registry.get_version)


@pytest.mark.parametrize("status", NEVER_SERVE)
def test_a_plain_rollback_never_returns_to_a_version_that_may_not_serve(registry, status):
    # Given production moved v1 -> v2, and then v1 stopped being deployable
    for run in ("a", "b"):
        _register(registry, run)
    registry.set_alias("m", 1, actor="x", reason="first")
    registry.set_alias("m", 2, actor="x", reason="second")
    _force_status(registry, 1, status)
    events = registry.list_events("m")

    with pytest.raises(DeploymentRefused, match=f"v1 is {status}"):
        registry.rollback("m", actor="oncall", reason="errors")

    assert registry.get_alias("m").version == 2
    assert registry.list_events("m") == events


@pytest.mark.parametrize("status", NEVER_SERVE)
def test_a_canary_that_stopped_being_deployable_is_never_promoted(registry, status):
    for run in ("a", "b"):
        _register(registry, run)
    registry.set_alias("m", 1, actor="x", reason="first")
    registry.set_canary("m", 2, 0.1, actor="x", reason="try")
    _force_status(registry, 2, status)

    with pytest.raises(DeploymentRefused, match=f"v2 is {status}"):
        registry.promote("m", actor="x", reason="healthy")

    alias = registry.get_alias("m")
    assert (alias.version, alias.canary_version) == (1, 2)


@pytest.mark.parametrize("move", ["set_alias", "promote", "rollback"])
def test_the_transaction_itself_refuses_a_version_whose_status_changed_after_the_check(registry, monkeypatch, move):
    # Given a check that read the version while it was still deployable
    for run in ("a", "b"):
        _register(registry, run)
    registry.set_alias("m", 1, actor="x", reason="first")
    if move == "promote":
        registry.set_canary("m", 2, 0.1, actor="x", reason="try")
        target = 2
    elif move == "rollback":
        registry.set_alias("m", 2, actor="x", reason="second")
        target = 1
    else:
        target = 2
    before = registry.get_alias("m")
    _force_status(registry, target, VERSION_ABANDONED)
    _unchecked(registry, monkeypatch)

    # When the move is written, Then the condition in its own transaction refuses it and nothing is written
    with pytest.raises(DeploymentRefused, match=f"v{target} is Abandoned"):
        if move == "set_alias":
            registry.set_alias("m", target, actor="x", reason="r")
        else:
            getattr(registry, move)("m", actor="x", reason="r")
    assert registry.get_alias("m") == before


def test_the_deployable_rule_is_the_one_the_transaction_states():
    assert DEPLOYABLE_STATUSES == ("Registered", "Approved")  # the condition is built from this tuple


# ---- serving ---------------------------------------------------------------------------------------------------
SCHEMA = {"features": [{"name": "x", "kind": "numeric"}], "target": "y", "task": "regression"}


class Registry:
    """One model with production v1 and a canary v2, each with the status the test sets."""

    def __init__(self) -> None:
        self.statuses = {1: VERSION_REGISTERED, 2: VERSION_REGISTERED}
        self.canary: int | None = None

    def get_alias(self, model_name: str, alias: str):
        return SimpleNamespace(version=1, canary_version=self.canary, canary_weight=0.5 if self.canary else 0.0)

    def get_version(self, model_name: str, version: int):
        digest = f"{model_name}-v{version}"
        return SimpleNamespace(
            model_name=model_name,
            version=version,
            status=self.statuses[version],
            serving=SimpleNamespace(served_by="onnx", onnx_uri=f"s3://bucket/{digest}.onnx", onnx_sha256=digest),
            artifact_uri=f"s3://bucket/{digest}.joblib",
            artifact_sha256=digest + "-joblib",
            schema_document=SCHEMA,
            schema_uri=None,
            schema_sha256=None,
        )


def _cache(registry: Registry) -> ModelCache:
    cache = ModelCache(registry, "onnx", 0.0, "bucket")  # the alias is read again on every request
    cache._load = lambda record, uri, digest, schema: (SimpleNamespace(runtime="onnx"), 1)  # type: ignore[method-assign]
    return cache


@pytest.mark.parametrize("status", NEVER_SERVE)
def test_the_predict_path_refuses_a_version_that_is_no_longer_deployable_even_once_loaded(status):
    registry = Registry()
    cache = _cache(registry)
    assert cache.choose("m").version == 1  # loaded and served

    registry.statuses[1] = status  # e.g. RecordFailure abandoned it while production pointed at it

    with pytest.raises(VersionNotDeployable, match=f"v1 is {status}"):
        cache.choose("m")


def test_a_canary_that_is_no_longer_deployable_takes_no_requests():
    registry = Registry()
    registry.canary = 2
    cache = _cache(registry)
    registry.statuses[2] = VERSION_ABANDONED

    assert {cache.choose("m", draw=lambda d=d: d).version for d in (0.0, 0.4, 0.9)} == {1}


def test_a_failed_run_that_abandons_a_version_an_alias_serves_names_the_alias(registry):
    # Given a person pointed staging at the version a run registered, and then the run failed
    version = _register(registry, "run-1")
    registry.set_alias("m", version, actor="person", reason="try it", alias="staging")

    outcome = reconcile_failed_run(
        registry,
        "m",
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:TrainingPipeline:run-1",
        state="PipelineFailed",
    )

    # Then the version is abandoned, the outcome names the alias left on it, and that alias no longer serves
    assert (outcome["version_status"], outcome["aliases_on_abandoned_version"]) == (VERSION_ABANDONED, ["staging"])
    assert registry.get_alias("m", PRODUCTION) is None
    cache = ModelCache(registry, "onnx", 0.0, "bucket")
    with pytest.raises(VersionNotDeployable):
        cache.choose("m", alias="staging")
