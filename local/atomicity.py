"""Make moto's DynamoDB writes atomic with respect to each other, as DynamoDB's are.

moto checks a transaction's conditions and then applies its writes without a lock, so two threads can both
pass ``attribute_not_exists`` and both write. Real DynamoDB serialises conflicting transactions; the registry's
version allocation relies on that. One lock around moto's write and read entry points restores it locally.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

_LOCK = threading.RLock()
_GUARDED = ("put_item", "update_item", "delete_item", "transact_write_items", "get_item", "query", "scan")
_originals: dict[str, Callable[..., Any]] = {}


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    call.__serialised__ = True  # type: ignore[attr-defined]
    return call


def install() -> None:
    for name in _GUARDED:
        method = getattr(DynamoDBBackend, name)
        if not getattr(method, "__serialised__", False):
            _originals[name] = method
            setattr(DynamoDBBackend, name, _serialised(method))


def installed() -> bool:
    return all(getattr(getattr(DynamoDBBackend, name), "__serialised__", False) for name in _GUARDED)
