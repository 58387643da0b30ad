"""Run Lambda functions locally instead of in Docker: in this process (the default) or in worker processes.

moto runs a Lambda's code only in a Docker container, and there is no Docker engine here (nor on many CI
runners). This replaces that single step, ``LambdaFunction._invoke_lambda``, with a call of the real handler
module named by the template (CodeUri + Handler), under the function's environment, with a Lambda context,
returning Lambda's error shape (``errorType``/``errorMessage``/``stackTrace``) so Step Functions routes on the error
name. Everything else (the invoke API, Step Functions' lambda:invoke integration, retries, logs) stays moto's. A
response over Lambda's 6 MB fails the invocation (``local/emulated/quotas.py``); the output reaches CloudWatch Logs in
events of at most 256 KiB, as Lambda writes it. ``local/moto_patches.py`` puts the hook in place.

Two ways to run the handler, chosen by ``MLOPS_LOCAL_WORKERS=1`` or ``set_workers``/``worker_processes()``:

* **In process** (default). Each invocation runs in its own thread with its own view of ``os.environ`` (the function's
  variables over the process's, in a context variable) and its own stdout, and is bounded by the function's
  ``Timeout``: a handler that runs longer fails as Lambda's does (``Sandbox.Timedout``, "Task timed out after N.00
  seconds") and is stopped at its next Python instruction. Invocations run one at a time (Map iterations one after
  another, as with a concurrency limit of 1), which keeps the default run deterministic; ``set_parallel(True)`` (or
  ``MLOPS_LOCAL_PARALLEL=1``) lets them overlap, on one core (the GIL). ``MemorySize`` is not enforced. Tests that
  patch domain code in this process (``monkeypatch``) or watch a handler's module state need this mode.
* **Worker processes** (``local/workers.py``). Each function gets warm execution environments, one process per
  concurrent invocation, holding its variables and its imported handler; they call AWS through a moto server over the
  same backends. Invocations overlap and use every core; ``Timeout`` and ``MemorySize`` are enforced by killing the
  worker (``Sandbox.Timedout``; ``Runtime.ExitError`` "Runtime exited with error: signal: killed"), which is then
  replaced. Fault injection works in both modes.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import importlib
import io
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator, MutableMapping
from dataclasses import asdict, dataclass
from typing import Any

from moto.awslambda.models import LambdaFunction

from local import workers
from local.emulated import quotas
from local.workers import LocalLambdaContext, ThrottledClient, error_body, run_handler

# Serial mode: one root invocation at a time. A handler may invoke another function (the admin API asks the
# predict function for a smoke test); that nested invocation is part of the root one and takes no lock.
_SERIAL_LOCK = threading.Lock()
_parallel = os.environ.get("MLOPS_LOCAL_PARALLEL") == "1"
_use_workers = os.environ.get("MLOPS_LOCAL_WORKERS") == "1"
_worker_runtime = workers.WorkerRuntime()
_HANDLERS: dict[str, str] = {}  # function name -> "package.module.attribute"
_original_invoke = LambdaFunction._invoke_lambda

_in_invocation: contextvars.ContextVar[bool] = contextvars.ContextVar("in_invocation", default=False)
_environment_overlay: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "environment_overlay", default=None
)
_invocation_logs: contextvars.ContextVar[io.StringIO | None] = contextvars.ContextVar("invocation_logs", default=None)
_throttled: contextvars.ContextVar[bool] = contextvars.ContextVar("throttled", default=False)
_DELETED = object()


class SandboxTerminated(BaseException):  # noqa: N818 - named after what Lambda does to the sandbox
    """Raised inside a handler thread that outlived its function's timeout: Lambda would have killed it."""


def set_parallel(enabled: bool) -> None:
    """Let invocations overlap (True) or run them one at a time (False, the default)."""
    global _parallel  # noqa: PLW0603 - one switch for the whole local runtime
    _parallel = enabled


def parallel_enabled() -> bool:
    return _parallel


@contextlib.contextmanager
def parallel() -> Iterator[None]:
    """Invocations overlap inside the block, as on a real stack."""
    saved = _parallel
    set_parallel(True)
    try:
        yield
    finally:
        set_parallel(saved)


def set_workers(enabled: bool) -> None:
    """Run invocations in worker processes (True) or in this process's threads (False, the default)."""
    global _use_workers  # noqa: PLW0603 - one switch for the whole local runtime
    _use_workers = enabled


@contextlib.contextmanager
def worker_processes(enabled: bool = True) -> Iterator[None]:
    """Invocations run in worker processes inside the block (``enabled=False``: in this process)."""
    saved = _use_workers
    set_workers(enabled)
    try:
        yield
    finally:
        set_workers(saved)


def worker_pools() -> dict[str, workers.FunctionPool]:
    """The warm execution environments of each function (worker mode), by function name."""
    return _worker_runtime.pools()


def register_handler(function_name: str, code_uri: str, handler: str) -> str:
    """Map a function to its handler: CodeUri ``functions/train/`` + Handler ``app.lambda_handler``."""
    package = code_uri.strip("/").replace("/", ".")
    module, _, attribute = handler.rpartition(".")
    dotted = f"{package}.{module}.{attribute}"
    _HANDLERS[function_name] = dotted
    return dotted


def forget_handlers() -> None:
    """Forget the functions and their execution environments: the next stack's invocations start cold, as
    Lambda's do after a deployment (module-level caches, such as the predict function's models, start empty)."""
    for dotted in _HANDLERS.values():
        sys.modules.pop(dotted.rpartition(".")[0], None)
    _HANDLERS.clear()
    _faults.clear()
    _worker_runtime.close()


def _resolve(dotted: str) -> Any:
    module_name, _, attribute = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


# ---- one invocation's view of the process: environment, stdout, clients ---------------------------------------
class InvocationEnviron(MutableMapping[str, str]):
    """``os.environ`` as each invocation sees it: its function's variables over the process's. Outside an invocation
    it is the process environment itself; inside one, reads see the overlay first and writes stay in it."""

    def __init__(self, real: MutableMapping[str, str]) -> None:
        self.real = real

    def __getitem__(self, key: str) -> str:
        overlay = _environment_overlay.get()
        if overlay is not None and key in overlay:
            value = overlay[key]
            if value is _DELETED:
                raise KeyError(key)
            return value
        return self.real[key]

    def __setitem__(self, key: str, value: str) -> None:
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"str expected, not {type(key).__name__}/{type(value).__name__}")
        overlay = _environment_overlay.get()
        if overlay is None:
            self.real[key] = value
        else:
            overlay[key] = value

    def __delitem__(self, key: str) -> None:
        overlay = _environment_overlay.get()
        if overlay is None:
            del self.real[key]
            return
        self[key]  # KeyError if absent  # noqa: B018
        overlay[key] = _DELETED

    def _keys(self) -> list[str]:
        overlay = _environment_overlay.get() or {}
        keys = [k for k in self.real if k not in overlay]
        return keys + [k for k, v in overlay.items() if v is not _DELETED]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def copy(self) -> dict[str, str]:
        return dict(self)

    def __repr__(self) -> str:
        return f"InvocationEnviron({dict(self)!r})"


class InvocationStdout(io.TextIOBase):
    """``sys.stdout`` while invocations run: what a handler prints goes to its invocation's logs."""

    def __init__(self, fallback: Any) -> None:
        self.fallback = fallback

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        logs = _invocation_logs.get()
        return (logs if logs is not None else self.fallback).write(text)

    def flush(self) -> None:
        if _invocation_logs.get() is None and not getattr(self.fallback, "closed", False):
            self.fallback.flush()

    def close(self) -> None:
        """The streams underneath belong to others (the process, pytest, an invocation): never close them."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fallback, name)


_stdout_lock = threading.Lock()
_active_invocations = 0


@contextlib.contextmanager
def _stdout_captured() -> Iterator[None]:
    global _active_invocations  # noqa: PLW0603 - counts invocations in every thread
    with _stdout_lock:
        if _active_invocations == 0 and not isinstance(sys.stdout, InvocationStdout):
            sys.stdout = InvocationStdout(sys.stdout)
        _active_invocations += 1
    try:
        yield
    finally:
        with _stdout_lock:
            _active_invocations -= 1
            if _active_invocations == 0 and isinstance(sys.stdout, InvocationStdout):
                sys.stdout = sys.stdout.fallback


def _install_environ() -> None:
    if not isinstance(os.environ, InvocationEnviron):
        # Not a clearing of the environment: the same variables, seen through each invocation's overlay.
        os.environ = InvocationEnviron(os.environ)  # type: ignore[assignment]  # noqa: B003


def _install_client_factory() -> None:
    """Wrap the handlers' client factory once: an invocation under a ``throttle`` fault gets throttled S3 and
    DynamoDB clients; every other invocation, in any thread, gets the real ones."""
    from mlops.storage import clients  # noqa: PLC0415 - the layer is on sys.path once local is imported

    if getattr(clients.client, "__throttle_aware__", False):
        return
    original = clients.client

    def client(service: str) -> Any:
        if _throttled.get() and service in ("s3", "dynamodb"):
            return ThrottledClient(service)
        return original(service)

    client.cache_clear = original.cache_clear  # type: ignore[attr-defined]
    client.__throttle_aware__ = True  # type: ignore[attr-defined]
    clients.client = client


# ---- invoking ------------------------------------------------------------------------------------------------
def timeout_body(function: LambdaFunction, request_id: str) -> str:
    """Lambda's outcome of an invocation that ran past the function's timeout."""
    message = f"RequestId: {request_id} Error: Task timed out after {float(function.timeout):.2f} seconds"
    return json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message})


def _stop_thread(thread: threading.Thread) -> None:
    """Raise SandboxTerminated in a handler thread at its next Python instruction (a blocking C call ends first)."""
    if thread.ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(SandboxTerminated))


@dataclass(frozen=True)
class _Invocation:
    """One invocation's request id, Lambda context and the variables Lambda sets for the function."""

    request_id: str
    event: Any
    context: LocalLambdaContext
    variables: dict[str, str]
    timeout_s: float


def _prepare(function: LambdaFunction, event: Any) -> _Invocation:
    if isinstance(event, str | bytes):
        event = json.loads(event or "{}")
    request_id = str(uuid.uuid4())
    timeout_s = float(function.timeout)
    context = LocalLambdaContext(
        function_name=function.function_name,
        function_version=function.version,
        invoked_function_arn=function.function_arn,
        memory_limit_in_mb=int(function.memory_size),
        aws_request_id=request_id,
        log_group_name=f"/aws/lambda/{function.function_name}",
        log_stream_name=f"local/{request_id}",
        deadline_s=time.monotonic() + timeout_s,
    )
    variables = {
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": function.version,
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(timeout_s)),
        "_HANDLER": function.handler,
        **{k: str(v) for k, v in function.environment_vars.items()},
    }
    return _Invocation(request_id, event, context, variables, timeout_s)


def invoke(function: LambdaFunction, event: Any, *, throttled: bool = False) -> tuple[str, bool, str]:
    """Run the function's handler, in a worker process or in this process as the switch says; return (response body,
    errored, logs) as moto's Docker path does, after Lambda's response quota, with the logs saved to CloudWatch Logs."""
    invocation = _prepare(function, event)
    run = _run_in_worker if _use_workers else _run_in_process
    body, errored, output = run(function, invocation, throttled)
    too_large = quotas.response_too_large(body)
    if too_large is not None:
        body, errored = too_large, True
    function.logs_backend.ensure_log_group(function.logs_group_name)
    function.save_logs(quotas.split_log_lines(output + body))
    return body, errored, output


def _run_in_process(function: LambdaFunction, invocation: _Invocation, throttled: bool) -> tuple[str, bool, str]:
    dotted = _HANDLERS[function.function_name]
    logs = io.StringIO()
    outcome: dict[str, Any] = {}

    def run() -> None:
        _in_invocation.set(True)
        _environment_overlay.set(dict(invocation.variables))
        _invocation_logs.set(logs)
        _throttled.set(throttled)
        try:
            outcome["body"], outcome["errored"] = run_handler(_resolve(dotted), invocation.event, invocation.context)
        except SandboxTerminated:
            return  # the caller has already reported the timeout

    nested = _in_invocation.get()
    lock = contextlib.nullcontext() if nested or _parallel else _SERIAL_LOCK
    with lock, _stdout_captured():
        thread = threading.Thread(
            target=contextvars.copy_context().run, args=(run,), name=f"lambda:{function.function_name}", daemon=True
        )
        thread.start()
        thread.join(invocation.timeout_s)
        if thread.is_alive():
            _stop_thread(thread)
            body, errored = timeout_body(function, invocation.request_id), True
        else:
            body, errored = outcome["body"], outcome["errored"]
    return body, errored, logs.getvalue()


def out_of_memory_body(request_id: str, detail: str = "signal: killed") -> str:
    """Lambda's outcome of an invocation whose runtime died: killed over its MemorySize, or exited."""
    message = f"RequestId: {request_id} Error: Runtime exited with error: {detail}"
    return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message})


def _run_in_worker(function: LambdaFunction, invocation: _Invocation, throttled: bool) -> tuple[str, bool, str]:
    """The handler in a warm worker process of the function (local/workers.py). Invocations overlap whatever the
    parallel switch says: a serial lock cannot see across processes, and a nested invocation would wait on it."""
    process_environment = os.environ.real if isinstance(os.environ, InvocationEnviron) else os.environ
    variables = {
        **dict(process_environment),
        **invocation.variables,
        "AWS_ENDPOINT_URL": _worker_runtime.endpoint(),
    }
    spec = workers.EnvironmentSpec(function.function_name, _HANDLERS[function.function_name], tuple(variables.items()))
    pool = _worker_runtime.pool(spec)
    environment = pool.acquire()
    request = {"event": invocation.event, "context": asdict(invocation.context), "throttled": throttled}
    try:
        outcome = environment.invoke(request, invocation.timeout_s, int(function.memory_size) * workers.MIB)
    finally:
        pool.release(environment)
    if outcome.kind == "returned":
        return outcome.body, outcome.errored, outcome.logs  # type: ignore[return-value]
    if outcome.kind == "timeout":
        return timeout_body(function, invocation.request_id), True, outcome.logs
    detail = "signal: killed" if outcome.kind == "out_of_memory" else outcome.exit_detail
    return out_of_memory_body(invocation.request_id, detail), True, outcome.logs


# ---- fault injection (tests and `make fuzz`) ----------------------------------------------------------------
FAULT_KINDS = ("exception", "timeout", "throttle", "service_error")
AFTER_KINDS = ("exception", "timeout", "service_error")
_faults: dict[str, list[tuple[str, bool]]] = {}  # function name -> (kind, after) still to inject, one per invocation
_faults_lock = threading.Lock()


def inject_fault(function_name: str, kind: str, times: int = 1_000_000, *, after: bool = False) -> None:
    """Make the next ``times`` invocations of a function fail the way ``kind`` says:

    exception      the handler raises (a bug): Lambda reports its errorType
    timeout        the invocation exceeds the function's timeout: Lambda's ``Sandbox.Timedout``
    throttle       every S3/DynamoDB call the handler makes is throttled (``ThrottlingException``)
    service_error  the Lambda service itself fails the invoke (``Lambda.ServiceException``; retried by the ASL)

    With ``after=True`` the real handler runs to its end first, side effects and all, and only then does the
    invocation fail: the handler raised after its last write (``exception``), the function timed out after its
    work was done (``timeout``), or the response was lost on its way back (``service_error``). A handler that
    itself fails keeps its own error.
    """
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault {kind!r}; one of {FAULT_KINDS}")
    if after and kind not in AFTER_KINDS:
        raise ValueError(f"{kind!r} cannot happen after the handler; one of {AFTER_KINDS}")
    with _faults_lock:
        _faults[function_name] = [(kind, after)] * times


def clear_faults() -> None:
    with _faults_lock:
        _faults.clear()


def _service_error() -> Exception:
    from moto.core.exceptions import JsonRESTError  # noqa: PLC0415

    return JsonRESTError("ServiceException", "injected Lambda service error")


def _faulty_invoke(function: LambdaFunction, event: Any, kind: str) -> tuple[str, bool, str]:
    if kind == "exception":
        return error_body(RuntimeError(f"injected fault in {function.function_name}")), True, ""
    if kind == "timeout":
        return timeout_body(function, str(uuid.uuid4())), True, ""
    if kind == "service_error":
        raise _service_error()
    return invoke(function, event, throttled=True)


def _fail_after(function: LambdaFunction, event: Any, kind: str) -> tuple[str, bool, str]:
    body, errored, logs = invoke(function, event)
    if errored:
        return body, errored, logs
    if kind == "exception":
        error = RuntimeError(f"injected fault in {function.function_name} after the handler's work")
        return error_body(error), True, logs
    if kind == "timeout":
        return timeout_body(function, str(uuid.uuid4())), True, logs
    raise _service_error()


def _next_fault(function_name: str) -> tuple[str, bool] | None:
    with _faults_lock:
        pending = _faults.get(function_name)
        return pending.pop() if pending else None


def _patched_invoke(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    quotas.check_request_size(event)
    fault = _next_fault(self.function_name)
    if fault is not None:
        kind, after = fault
        return _fail_after(self, event, kind) if after else _faulty_invoke(self, event, kind)
    if self.function_name in _HANDLERS:
        return invoke(self, event)
    return _original_invoke(self, event)


def install_invocation_views() -> None:
    """Give each invocation its own view of ``os.environ`` and of the handlers' client factory. (moto's Lambda
    invocations reach ``_patched_invoke`` through local/moto_patches.py.)"""
    _install_environ()
    _install_client_factory()
