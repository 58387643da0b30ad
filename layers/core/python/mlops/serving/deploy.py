"""The Deploy step: move the production alias to a registered version, once.

Kept apart from ``mlops.training.steps`` so the deploy function does not import scikit-learn (~3 s of cold start)
to move an alias.
"""

from __future__ import annotations

from typing import Any

from mlops.governance.lineage import run_id_of
from mlops.registry.records import PRODUCTION
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
