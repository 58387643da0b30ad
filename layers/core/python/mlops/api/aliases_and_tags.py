"""Deployments (production or a canary), named aliases and version tags: every move smoke-tested where it serves
traffic, every change audited."""

from __future__ import annotations

import json
from typing import Any

from mlops.errors import DeploymentRefused, SmokeTestFailed
from mlops.records.registry import PRODUCTION, AliasRecord
from mlops.registry.aliases import checked_alias
from mlops.registry.store import ModelRegistry
from mlops.storage import clients


def public_alias(alias: AliasRecord) -> dict[str, Any]:
    return alias.to_document()


def smoke_test_via(predict_function: str, model_name: str, version: int) -> dict[str, Any]:
    """Ask the predict function itself (the real serving runtime) to serve the version's input example."""
    response = clients.client("lambda").invoke(
        FunctionName=predict_function,
        Payload=json.dumps({"step": "smoke_test", "model_name": model_name, "version": version}).encode(),
    )
    payload = json.loads(response["Payload"].read() or b"{}")
    if response.get("FunctionError"):
        raise SmokeTestFailed(
            f"{model_name} v{version} failed its smoke test ({payload.get('errorType', 'error')}); the predict "
            "function's log has the details (they can quote the input example)"
        )
    return payload


def deploy(
    registry: ModelRegistry,
    predict_function: str,
    model_name: str,
    *,
    version: int,
    canary_weight: float | None,
    actor: str,
    reason: str,
) -> dict[str, Any]:
    """Smoke-test the version, then make it production (or a canary with ``0 < canary_weight < 1``). A version that
    may not serve (Rejected, waiting for approval, ...) is refused first, saying why: no smoke test runs."""
    registry.deployable(model_name, version)
    if canary_weight is not None and canary_weight <= 0:
        raise DeploymentRefused("canary_weight must be above 0 (or omit it to deploy to production)")
    smoke = smoke_test_via(predict_function, model_name, version)
    if canary_weight is None or canary_weight >= 1:
        alias = registry.set_alias(model_name, version, actor=actor, reason=reason)
    elif canary_weight <= 0:
        raise DeploymentRefused("canary_weight must be above 0 (or omit it to deploy to production)")
    else:
        alias = registry.set_canary(model_name, version, canary_weight, actor=actor, reason=reason)
    return {"alias": alias.to_document(), "smoke_test": smoke}


def set_alias(
    registry: ModelRegistry,
    predict_function: str,
    model_name: str,
    alias: str,
    *,
    version: int,
    actor: str,
    reason: str,
) -> dict[str, Any]:
    """Smoke-test the version, then point the named alias at it (audited, as a deployment is): every alias serves
    ``POST /models/{name}/predict?alias=<alias>``. ``production`` this way is a deployment without a canary."""
    checked_alias(alias)
    registry.deployable(model_name, version)
    smoke = smoke_test_via(predict_function, model_name, version)
    record = registry.set_alias(model_name, version, actor=actor, reason=reason, alias=alias)
    return {"alias": record.to_document(), "smoke_test": smoke}


def delete_alias(registry: ModelRegistry, model_name: str, alias: str, *, actor: str, reason: str) -> dict[str, Any]:
    """Remove a named alias (audited); the version stays. ``production`` is moved by deployments and rollbacks,
    never deleted here: the endpoint would stop serving."""
    checked_alias(alias)
    if alias == PRODUCTION:
        raise DeploymentRefused("production is not deleted: deploy another version or roll back")
    registry.get_model(model_name)
    removed = registry.remove_alias(model_name, actor=actor, reason=reason, alias=alias)
    return {"model_name": model_name, "alias": alias, "removed_version": removed.version}


def set_tag(
    registry: ModelRegistry, model_name: str, version: int, key: str, value: str, *, actor: str, reason: str
) -> dict[str, Any]:
    record = registry.set_tag(model_name, version, key, value, actor=actor, reason=reason)
    return {"model_name": model_name, "version": version, "tags": record.tags}


def delete_tag(
    registry: ModelRegistry, model_name: str, version: int, key: str, *, actor: str, reason: str
) -> dict[str, Any]:
    record = registry.delete_tag(model_name, version, key, actor=actor, reason=reason)
    return {"model_name": model_name, "version": version, "tags": record.tags}
