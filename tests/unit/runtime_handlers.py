"""Handlers the local runtime's tests run in place of a function's own (see tests/unit/test_local_runtime.py)."""

from __future__ import annotations

import os
import threading
import time

stopped = threading.Event()
barrier_box: dict[str, threading.Barrier] = {}


def sleepy_handler(event, context):
    """Runs until Lambda would kill it; says so when it is stopped."""
    try:
        while True:
            time.sleep(0.02)
    finally:
        stopped.set()


def environment_handler(event, context):
    """Waits (briefly) for its sibling invocation to be inside a handler too, then reports what it sees."""
    os.environ["WRITTEN_BY_HANDLER"] = context.function_name
    try:
        barrier_box["barrier"].wait(timeout=event["wait_s"])
        overlapped = True
    except threading.BrokenBarrierError:
        overlapped = False
    return {
        "function_name": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
        "written": os.environ["WRITTEN_BY_HANDLER"],
        "registry_table": os.environ.get("REGISTRY_TABLE"),
        "overlapped": overlapped,
    }


def sized_handler(event, context):
    """Returns a document of the size the event asks for (its JSON is ``size_bytes`` long)."""
    overhead = len('{"padding": ""}')
    return {"padding": "x" * (event["size_bytes"] - overhead)}
