"""Lambda execution environments as worker processes: each function's invocations run in warm processes of their own.

A worker is what Lambda calls an execution environment: one process per concurrent invocation of a function, holding
that function's environment variables (set in the process itself, not overlaid), its handler module imported once
(module-level caches stay warm), reused while it lives, and replaced after it is killed. Concurrent invocations (the
Map's iterations) therefore run side by side on every core instead of taking turns on one GIL.

The in-process moto cannot be reached from another process, so workers call AWS through ``AWS_ENDPOINT_URL``: moto's
``ThreadedMotoServer`` over the same backends, started here on a free port when the first worker needs it (as
``local/aws_server.py`` serves the stack to other processes). A worker's Lambda invoke (the admin API's smoke test of
the predict function) goes through that server back into this process's runtime, which hands it to a worker of the
invoked function: nested invocations need no special case.

What the parent enforces while it waits for a worker's answer, sampling the worker every ``SAMPLE_INTERVAL_S``:

* the function's ``Timeout``: the worker is killed and the invocation fails as Lambda's does (``Sandbox.Timedout``);
* the function's ``MemorySize``: a worker whose resident memory (``/proc/<pid>/statm``, RSS, not virtual memory: numpy
  and the allocator reserve far more address space than they touch) exceeds it is killed, and the invocation fails as
  Lambda's does when its sandbox runs out of memory (``Runtime.ExitError``, "Runtime exited with error: signal:
  killed"). A spike shorter than one sampling interval can escape, where Lambda's cgroup would not let it.

Workers are made by multiprocessing's ``forkserver``: ``fork`` from this process would copy moto's server threads and
their held locks into the child (unsafe), and ``spawn`` re-imports numpy, scikit-learn and boto3 in every worker (about
2 s each); the fork server is a clean single-threaded process that imports those libraries once (``PRELOADED_MODULES``)
and forks a new worker in milliseconds. The handler modules themselves are imported in each worker, under its
function's variables, as Lambda's init phase does.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAMPLE_INTERVAL_S = 0.01
MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent
CORE_LAYER = ROOT / "layers" / "core" / "python"
# Libraries every handler imports, loaded once in the fork server (never the handler modules: they read their
# function's variables at import time).
PRELOADED_MODULES = [
    "numpy",
    "boto3",
    "botocore.session",
    "pydantic",
    "aws_lambda_powertools",
    "scipy.stats",
    "sklearn.ensemble",
    "sklearn.linear_model",
]

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(PRELOADED_MODULES)
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
# multiprocessing re-runs the parent's main script (or ``-m`` module) in each child it starts; an execution environment
# has no main script, so a worker is started while ``__main__`` is an empty module (one start at a time).
_NO_MAIN = types.ModuleType("__main__")
_WITHOUT_MAIN_MODULE = threading.Lock()


@dataclass
class LocalLambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_s: float  # time.monotonic() of the deadline: one clock for every process of the machine

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_s - time.monotonic()) * 1000))


@dataclass(frozen=True)
class EnvironmentSpec:
    """What makes two execution environments interchangeable: the same function, handler and variables."""

    function_name: str
    handler: str  # "package.module.attribute"
    variables: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class WorkerOutcome:
    """How an invocation in a worker ended: ``kind`` is "returned", "timeout", "out_of_memory" or "exited"."""

    kind: str
    body: str | None
    errored: bool
    logs: str
    peak_resident_bytes: int
    exit_detail: str = ""


def resident_bytes(pid: int) -> int | None:
    """A process's resident set size, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE_BYTES
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return None


# ---- the worker process --------------------------------------------------------------------------------------
class _LogStream:
    """stdout and stderr of a worker: every write goes to the worker's log file at once, so what a handler printed
    before it was killed is still in its invocation's logs."""

    def __init__(self, file: Any) -> None:
        self.file = file

    def write(self, text: str) -> int:
        written = self.file.write(text)
        self.file.flush()
        return written

    def flush(self) -> None:
        self.file.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)


_throttled = False


class ThrottledClient:
    """A client whose every operation is throttled, as S3 and DynamoDB answer under the ``throttle`` fault."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __getattr__(self, operation: str) -> Any:
        def throttled(*args: Any, **kwargs: Any) -> Any:
            from botocore.exceptions import ClientError  # noqa: PLC0415

            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation)

        return throttled


def _install_throttle_switch() -> None:
    from mlops.storage import clients  # noqa: PLC0415 - the layer is on sys.path by now

    original = clients.client

    def client(service: str) -> Any:
        if _throttled and service in ("s3", "dynamodb"):
            return ThrottledClient(service)
        return original(service)

    client.cache_clear = original.cache_clear  # type: ignore[attr-defined]
    clients.client = client


def error_body(exc: BaseException) -> str:
    return json.dumps(
        {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_tb(exc.__traceback__),
        }
    )


def run_handler(function: Any, event: Any, context: Any) -> tuple[str, bool]:
    """Call a handler and turn its outcome into Lambda's response body and error flag."""
    try:
        return json.dumps(function(event, context)), False
    except TypeError as exc:
        if "JSON serializable" in str(exc):
            return json.dumps({"errorType": "Runtime.MarshalError", "errorMessage": str(exc)}), True
        return error_body(exc), True
    except Exception as exc:
        return error_body(exc), True


def _serve(connection: Any, handler: str, variables: dict[str, str], log_path: str) -> None:
    """A worker's life: take its function's environment, import the handler at the first invocation, then answer
    invocations one at a time until told to stop (None) or killed."""
    global _throttled  # noqa: PLW0603 - one switch for the one invocation this process runs at a time
    os.environ.clear()
    os.environ.update(variables)
    for path in (str(CORE_LAYER), str(ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)
    log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - open for the worker's whole life
    sys.stdout = sys.stderr = _LogStream(log)  # type: ignore[assignment]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which stops its workers
    _install_throttle_switch()
    function = None
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        if function is None:
            module_name, _, attribute = handler.rpartition(".")
            try:
                import importlib  # noqa: PLC0415

                function = getattr(importlib.import_module(module_name), attribute)
            except Exception as exc:  # Lambda's init error: every invocation of this environment fails the same way
                message = f"Unable to import module '{module_name}': {exc}"
                connection.send((json.dumps({"errorType": "Runtime.ImportModuleError", "errorMessage": message}), True))
                continue
        _throttled = request["throttled"]
        body, errored = run_handler(function, request["event"], LocalLambdaContext(**request["context"]))
        log.flush()
        connection.send((body, errored))


# ---- the parent's side -----------------------------------------------------------------------------------------
class ExecutionEnvironment:
    """One worker process of one function."""

    def __init__(self, spec: EnvironmentSpec, log_dir: str) -> None:
        self.spec = spec
        log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - the worker appends to it for its whole life
            prefix=f"{spec.function_name}-", suffix=".log", dir=log_dir, delete=False
        )
        log_file.close()
        self.log_path = log_file.name
        self.connection, child = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(
            target=_serve,
            args=(child, spec.handler, dict(spec.variables), self.log_path),
            name=f"lambda:{spec.function_name}",
            daemon=True,
        )
        with _WITHOUT_MAIN_MODULE:
            sys.modules["__main__"], saved = _NO_MAIN, sys.modules["__main__"]
            try:
                self.process.start()
            finally:
                sys.modules["__main__"] = saved
        child.close()

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def invoke(self, request: dict[str, Any], timeout_s: float, memory_limit_bytes: int) -> WorkerOutcome:
        """Send one invocation and wait for its answer, its timeout, or its worker going over its memory."""
        log_offset = os.path.getsize(self.log_path)
        deadline = time.monotonic() + timeout_s
        peak = 0
        self.connection.send(request)
        while True:
            if self.connection.poll(SAMPLE_INTERVAL_S):
                try:
                    body, errored = self.connection.recv()
                except (EOFError, OSError):
                    return self._exited(log_offset, peak)
                return WorkerOutcome("returned", body, errored, self._logs(log_offset), peak)
            resident = resident_bytes(self.process.pid)  # type: ignore[arg-type]
            if resident is None or not self.process.is_alive():
                return self._exited(log_offset, peak)
            peak = max(peak, resident)
            if resident > memory_limit_bytes:
                self.kill()
                return WorkerOutcome("out_of_memory", None, True, self._logs(log_offset), peak)
            if time.monotonic() >= deadline:
                self.kill()
                return WorkerOutcome("timeout", None, True, self._logs(log_offset), peak)

    def _exited(self, log_offset: int, peak: int) -> WorkerOutcome:
        self.process.join(timeout=1.0)
        code = self.process.exitcode
        if code is not None and code < 0:
            detail = f"signal: {signal.Signals(-code).name.removeprefix('SIG').lower()}"
            detail = "signal: killed" if code == -signal.SIGKILL else detail
        else:
            detail = f"exit status {code}"
        return WorkerOutcome("exited", None, True, self._logs(log_offset), peak, exit_detail=detail)

    def _logs(self, offset: int) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            log.seek(offset)
            return log.read()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5.0)

    def stop(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self.connection.send(None)
        self.process.join(timeout=2.0)
        self.kill()
        self.connection.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log_path)


class FunctionPool:
    """A function's warm execution environments: an invocation takes an idle one or starts a new one, so as many run
    at once as there are concurrent invocations (as Lambda scales a function out)."""

    def __init__(self, spec: EnvironmentSpec, log_dir: str) -> None:
        self.spec = spec
        self.log_dir = log_dir
        self._idle: list[ExecutionEnvironment] = []
        self._every: list[ExecutionEnvironment] = []
        self._lock = threading.Lock()
        self.started = 0  # environments started (cold starts), for tests and figures

    def acquire(self) -> ExecutionEnvironment:
        with self._lock:
            while self._idle:
                environment = self._idle.pop()
                if environment.alive:
                    return environment
            self.started += 1
        environment = ExecutionEnvironment(self.spec, self.log_dir)
        with self._lock:
            self._every.append(environment)
        return environment

    def release(self, environment: ExecutionEnvironment) -> None:
        with self._lock:
            if environment.alive:
                self._idle.append(environment)
            else:  # killed (timeout, memory): the next invocation gets a new one
                with contextlib.suppress(ValueError):
                    self._every.remove(environment)
                environment.stop()

    def close(self) -> None:
        with self._lock:
            every, self._every, self._idle = self._every, [], []
        for environment in every:
            environment.stop()


class WorkerRuntime:
    """Every function's pool and the AWS endpoint the workers call; started at the first invocation, closed with the
    stack (``local.runtime.forget_handlers``)."""

    def __init__(self) -> None:
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()
        self._server: Any = None
        self._endpoint: str | None = None
        self._log_dir: tempfile.TemporaryDirectory[str] | None = None

    def endpoint(self) -> str:
        with self._lock:
            if self._endpoint is None:
                import logging  # noqa: PLC0415

                from moto.server import ThreadedMotoServer  # noqa: PLC0415 - the parent only

                logging.getLogger("werkzeug").setLevel(logging.ERROR)
                self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
                self._server.start()
                host, port = self._server.get_host_and_port()
                self._endpoint = f"http://{host}:{port}"
            return self._endpoint

    def pool(self, spec: EnvironmentSpec) -> FunctionPool:
        with self._lock:
            if self._log_dir is None:
                self._log_dir = tempfile.TemporaryDirectory(prefix="mlops-lambda-logs-")
            pool = self._pools.get(spec.function_name)
            if pool is not None and pool.spec == spec:
                return pool
            # A new configuration (variables, handler): new environments, as after UpdateFunctionConfiguration.
            self._pools[spec.function_name] = FunctionPool(spec, self._log_dir.name)
        if pool is not None:
            pool.close()
        return self._pools[spec.function_name]

    def pools(self) -> dict[str, FunctionPool]:
        with self._lock:
            return dict(self._pools)

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
            server, self._server, self._endpoint = self._server, None, None
            log_dir, self._log_dir = self._log_dir, None
        for pool in pools:
            pool.close()
        if server is not None:
            server.stop()
        if log_dir is not None:
            log_dir.cleanup()
