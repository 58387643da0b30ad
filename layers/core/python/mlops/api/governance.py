"""The governance reads and checks behind the API: a model's audit trail, a version's model card, a reproduction."""

from __future__ import annotations

import json
from typing import Any

from mlops.errors import VersionConflict
from mlops.governance import cards
from mlops.registry.store import ModelRegistry
from mlops.storage import clients


def audit(registry: ModelRegistry, model_name: str) -> list[dict[str, Any]]:
    registry.get_model(model_name)
    return [event.to_document() for event in registry.list_events(model_name)]


def card(registry: ModelRegistry, model_name: str, version: int) -> dict[str, Any]:
    """The model card of a version, rendered from the registry as it is now."""
    return cards.build_card(registry.get_version(model_name, version), registry.list_events(model_name))


def reproduce_via(
    reproduce_function: str, registry: ModelRegistry, model_name: str, version: int, actor: str
) -> dict[str, Any]:
    """Ask the reproduce function (ML layer) to retrain the version from its lineage; return its report."""
    registry.get_version(model_name, version)  # 404 before any work
    response = clients.client("lambda").invoke(
        FunctionName=reproduce_function,
        Payload=json.dumps({"model_name": model_name, "version": version, "requested_by": actor}).encode(),
    )
    payload = json.loads(response["Payload"].read() or b"{}")
    if response.get("FunctionError"):
        raise ReproductionFailed(
            f"{model_name} v{version} could not be reproduced ({payload.get('errorType', 'error')}); the reproduce "
            "function's log has the details (they can quote the data)"
        )
    return payload


class ReproductionFailed(VersionConflict):
    """The version could not be retrained (e.g. its dataset is gone)."""
