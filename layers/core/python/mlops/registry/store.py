"""The model registry: one interface over the DynamoDB tables, as MLflow's abstract store is one interface.

Artifacts live in S3 (``mlops.storage.objects``); the registry records their URIs and sha256 digests. The rooms:
``table`` (the wire), ``versions`` (reads as typed records, atomic registration, filtered listing), ``aliases``
(deployment policy, any named alias), ``approvals`` (the approval state machine), ``tags`` (version tags);
``mlops.records.registry`` holds the shapes. Keys: ``mlops.storage.layout``.
"""

from __future__ import annotations

from typing import Any

from mlops.registry.aliases import AliasOperations
from mlops.registry.approvals import ApprovalOperations
from mlops.registry.tags import TagOperations
from mlops.settings import Settings


class ModelRegistry(AliasOperations, ApprovalOperations, TagOperations):
    """Versions, tags, aliases, approvals and the audit trail of every model (registry, alias and audit tables)."""

    @classmethod
    def from_settings(cls, settings: Settings, dynamodb: Any | None = None) -> ModelRegistry:
        return cls(
            settings.registry_table,
            alias_table=settings.alias_table,
            audit_table=settings.audit_table,
            dynamodb=dynamodb,
        )
