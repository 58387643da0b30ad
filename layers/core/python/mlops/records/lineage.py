"""What a version records about how it was made, so it can be traced and reproduced."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

import mlops

TRACKED_LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib")
CONVERSION_LIBRARIES = ("skl2onnx", "onnx")


def library_versions(names: tuple[str, ...] = TRACKED_LIBRARIES) -> dict[str, str]:
    versions = {"python": platform.python_version(), "mlops": mlops.__version__}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "absent"
    return versions


def run_id_of(execution_arn: str) -> str:
    """The execution's name: the last field of its ARN (unique per state machine)."""
    return execution_arn.rsplit(":", 1)[-1]
