"""boto3 clients made late and cached, so moto is active before any client exists (tests, local stack)."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3


@cache
def client(service: str) -> Any:
    return boto3.session.Session().client(service)


def reset_clients() -> None:
    """Forget cached clients (the local stack calls this when it starts a fresh embedded AWS)."""
    client.cache_clear()
