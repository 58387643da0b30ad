"""The Python SDK of the serverless MLOps stack: ``from mlops_client import Client``.

Importing it costs the standard library only: botocore is imported when a deployed stack is used, pandas never by
the SDK itself (a DataFrame argument is recognised by its type)."""

from mlops_client.client import Client
from mlops_client.errors import (
    BadRequest,
    ConfigurationError,
    Conflict,
    Forbidden,
    Invalid,
    MlopsApiError,
    MlopsError,
    NotFound,
    Unreachable,
    WaitTimeout,
)
from mlops_client.jobs import BatchJob, DriftCheck, Run
from mlops_client.types import (
    Alias,
    Comparison,
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

__version__ = "0.1.0"

__all__ = [
    "Alias",
    "BadRequest",
    "BatchJob",
    "Client",
    "Comparison",
    "ConfigurationError",
    "Conflict",
    "DriftCheck",
    "Forbidden",
    "Gate",
    "Invalid",
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
    "Serving",
    "Unreachable",
    "Version",
    "VersionSummary",
    "WaitTimeout",
]
