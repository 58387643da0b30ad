"""Handlers the local runtime's tests run in place of a function's own (see tests/unit/test_local_runtime.py)."""

from __future__ import annotations

import json
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


def _resident_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory_handler(event, context):
    """Grows its process to ``resident_mib`` of resident memory, holds it a moment, and reports what it reached."""
    grow_mib = max(0.0, event["resident_mib"] - _resident_mib())
    block = bytearray(b"\x01") * int(grow_mib * 2**20)  # written, so resident (bytearray(n) alone may not be)
    time.sleep(event.get("hold_s", 0.3))
    return {"resident_mib": _resident_mib(), "held_bytes": len(block), "limit_mib": context.memory_limit_in_mb}


def process_handler(event, context):
    """Reports the process it runs in and what it sees; prints a line for the logs; optionally works for a while."""
    print(f"working in {os.getpid()}")
    deadline = time.monotonic() + event.get("busy_s", 0.0)
    while time.monotonic() < deadline:  # CPU work, not a sleep: overlapping invocations must use separate cores
        sum(range(10_000))
    return {
        "pid": os.getpid(),
        "function_name": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
        "registry_table": os.environ.get("REGISTRY_TABLE"),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "started_s": time.time() - event.get("busy_s", 0.0),
        "ended_s": time.time(),
    }


def printing_sleeper(event, context):
    """Prints, then runs past any timeout."""
    print("started, now sleeping")
    time.sleep(3600)


def proxy_handler(event, context):
    """An API Gateway proxy integration that takes ``sleep_s`` (from its JSON body) to answer."""
    request = json.loads(event.get("body") or "{}")
    time.sleep(request.get("sleep_s", 0.0))
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps({"ok": True})}


def printing_handler(event, context):
    """Prints one line of ``line_bytes`` ASCII characters."""
    print("x" * event["line_bytes"])
    return {"printed": event["line_bytes"]}
