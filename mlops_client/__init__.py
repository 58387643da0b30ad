"""The Python SDK of the serverless MLOps stack: ``from mlops_client import Client``.

Importing it costs the standard library only, and each name loads on first use: botocore is imported when a deployed
stack is used, pandas never by the SDK itself (a DataFrame argument is recognised by its type)."""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_client.client import Client
    from mlops_client.errors import (
        BadRequest,
        ConfigurationError,
        Conflict,
        Forbidden,
        Invalid,
        InvalidInput,
        MlopsApiError,
        MlopsError,
        NotFound,
        SchemaMismatch,
        Unreachable,
        WaitTimeout,
    )
    from mlops_client.inputs import InputSchema
    from mlops_client.jobs import BatchJob, DriftCheck, Run
    from mlops_client.types import (
        Alias,
        Comparison,
        Cost,
        Gate,
        Lineage,
        MetricComparison,
        Model,
        ModelSummary,
        Monitoring,
        RunSummary,
        Schema,
        Serving,
        Version,
        VersionSummary,
    )

# what each public name is imported from: imported on first use (PEP 562), so `import mlops_client.errors` (the
# `mlops` command's start) does not pay for the client's HTTP stack
_EXPORTS = {
    "Alias": "mlops_client.types",
    "BadRequest": "mlops_client.errors",
    "BatchJob": "mlops_client.jobs",
    "Client": "mlops_client.client",
    "DriftCheck": "mlops_client.jobs",
    "Comparison": "mlops_client.types",
    "ConfigurationError": "mlops_client.errors",
    "Conflict": "mlops_client.errors",
    "Cost": "mlops_client.types",
    "Forbidden": "mlops_client.errors",
    "Gate": "mlops_client.types",
    "Invalid": "mlops_client.errors",
    "InputSchema": "mlops_client.inputs",
    "InvalidInput": "mlops_client.errors",
    "Lineage": "mlops_client.types",
    "MetricComparison": "mlops_client.types",
    "MlopsApiError": "mlops_client.errors",
    "MlopsError": "mlops_client.errors",
    "Model": "mlops_client.types",
    "ModelSummary": "mlops_client.types",
    "Monitoring": "mlops_client.types",
    "NotFound": "mlops_client.errors",
    "Run": "mlops_client.jobs",
    "RunSummary": "mlops_client.types",
    "Schema": "mlops_client.types",
    "SchemaMismatch": "mlops_client.errors",
    "Serving": "mlops_client.types",
    "Unreachable": "mlops_client.errors",
    "Version": "mlops_client.types",
    "VersionSummary": "mlops_client.types",
    "WaitTimeout": "mlops_client.errors",
}

__version__ = "0.1.0"

__all__ = [
    "Alias",
    "BadRequest",
    "BatchJob",
    "Client",
    "Comparison",
    "Cost",
    "ConfigurationError",
    "Conflict",
    "DriftCheck",
    "Forbidden",
    "Gate",
    "InputSchema",
    "Invalid",
    "InvalidInput",
    "Lineage",
    "MetricComparison",
    "MlopsApiError",
    "MlopsError",
    "Model",
    "ModelSummary",
    "Monitoring",
    "NotFound",
    "Run",
    "RunSummary",
    "Schema",
    "SchemaMismatch",
    "Serving",
    "Unreachable",
    "Version",
    "VersionSummary",
    "WaitTimeout",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlops_client' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
