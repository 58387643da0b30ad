"""The Deploy step: move the production alias to a registered version, once.

Kept apart from the training steps (``mlops.training``) so the deploy function does not import scikit-learn (~3 s of
cold start) to move an alias.
"""

from __future__ import annotations

from typing import Any

from mlops.records.funnel import FUNNEL_STATES
from mlops.records.lineage import run_id_of
from mlops.records.registry import PRODUCTION
from mlops.registry.store import ModelRegistry


def deploy(
    model_name: str, version: int, *, execution_arn: str, reason: str, registry: ModelRegistry
) -> dict[str, Any]:
    """Move the production alias to the version (atomically; the previous version is kept for rollback)."""
    current = registry.get_alias(model_name, PRODUCTION)
    if current is not None and current.version == version:
        return {
            "alias": PRODUCTION,
            "version": version,
            "previous_version": current.previous_version,
            "changed": False,
        }  # a retried step: already done
    moved = registry.set_alias(
        model_name,
        version,
        actor=f"pipeline:{run_id_of(execution_arn)}",
        reason=reason,
        expected_version=current.version if current else None,
        check_expected=True,
    )
    return {"alias": PRODUCTION, "version": version, "previous_version": moved.previous_version, "changed": True}


def revert_deployment(
    model_name: str, version: int, *, execution_arn: str, reason: str, registry: ModelRegistry
) -> dict[str, Any]:
    """Undo this run's move of the production alias to ``version``, if it is still the alias's last move (a
    canary or shadow of ``version`` this run set is withdrawn).

    A run that ends DeploymentFailed must leave production where it found it. If the Deploy step moved the alias
    and then failed (it timed out after the write, every retry included), the alias goes back to the version it
    replaced, compare-and-swap on the alias's revision; a first deployment's alias is removed. A later move by
    anyone else (another run, a person) is left alone.
    """
    actor = f"pipeline:{run_id_of(execution_arn)}"
    current = registry.get_alias(model_name, PRODUCTION)
    if (
        current is not None
        and current.updated_by == actor
        and version in (current.canary_version, current.shadow_version)
    ):
        # A progressive rollout of this run was cut short: withdraw its canary or shadow, production stays.
        if current.shadow_version == version:
            registry.end_shadow(model_name, actor=actor, reason=reason)
        else:
            registry.rollback(model_name, actor=actor, reason=reason)
        return {"alias": PRODUCTION, "version": current.version, "reverted": True, "removed": False}
    if current is None or current.version != version or current.updated_by != actor:
        return {"alias": PRODUCTION, "version": version, "reverted": False}
    if current.previous_version is not None:
        moved = registry.set_alias(
            model_name,
            current.previous_version,
            actor=actor,
            reason=reason,
            expected_version=version,
            check_expected=True,
        )
        return {"alias": PRODUCTION, "version": moved.version, "reverted": True, "removed": False}
    registry.remove_alias(model_name, actor=actor, reason=reason)
    return {"alias": PRODUCTION, "version": None, "reverted": True, "removed": True}


def undo_deployment(registry: ModelRegistry, model_name: str, *, execution_arn: str, state: str) -> bool:
    """The Deploy function's part: undo a production move this run made, whichever named state the run ends in
    (none of them says production moved). Return whether the alias was reverted."""
    if state not in FUNNEL_STATES:
        return False
    version = registry.version_for_run(model_name, run_id_of(execution_arn))
    if version is None:
        return False
    reason = f"the run that deployed v{version} ended {state}"
    reverted = revert_deployment(model_name, version, execution_arn=execution_arn, reason=reason, registry=registry)
    return bool(reverted["reverted"])
