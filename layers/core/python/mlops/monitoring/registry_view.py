"""The registry as monitoring sees it: the one place in mlops.monitoring that imports mlops.registry, so a rename
there changes one line here. Monitoring reads the production alias and its version record, and appends audit events.
"""

from __future__ import annotations

from mlops.records.registry import MODEL_NAME_PATTERN, PRODUCTION
from mlops.registry.documents import schema_of
from mlops.registry.store import ModelRegistry

__all__ = ["MODEL_NAME_PATTERN", "PRODUCTION", "ModelRegistry", "schema_of"]
