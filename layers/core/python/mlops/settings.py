"""Settings read once from the environment and validated: a missing value fails at start, never later."""

from __future__ import annotations

import os
from dataclasses import dataclass


class MissingSetting(RuntimeError):
    """An environment variable the template must set is absent."""


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise MissingSetting(f"environment variable {name} is not set; the template must set it")
    return value


@dataclass(frozen=True)
class Settings:
    artifacts_bucket: str
    registry_table: str

    # Every variable the code reads; a contract test checks the template sets each one for each function.
    ENVIRONMENT_VARIABLES = ("ARTIFACTS_BUCKET", "REGISTRY_TABLE")

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(artifacts_bucket=_required("ARTIFACTS_BUCKET"), registry_table=_required("REGISTRY_TABLE"))
