"""Make moto's DynamoDB writes atomic with respect to each other, as DynamoDB's are.

moto checks a transaction's conditions and then applies its writes without a lock, so two threads can both
pass ``attribute_not_exists`` and both write. Real DynamoDB serialises conflicting transactions; the registry's
version allocation relies on that. One lock around moto's write and read entry points restores it locally
(applied by ``local/moto_patches.py``, with every other replacement of moto's behaviour).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

_LOCK = threading.RLock()
GUARDED = ("put_item", "update_item", "delete_item", "transact_write_items", "get_item", "query", "scan")


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    return call


# moto's method -> the same method under the lock; local/moto_patches.py puts each in place of moto's.
SERIALISED = {name: _serialised(getattr(DynamoDBBackend, name)) for name in GUARDED}
