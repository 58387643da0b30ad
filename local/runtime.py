"""Run Lambda functions in-process instead of in Docker.

moto runs a Lambda's code only in a Docker container, and there is no Docker engine here (nor on many CI
runners). This replaces that single step, ``LambdaFunction._invoke_lambda``, with a call of the real handler
module named by the template (CodeUri + Handler), under the function's environment, with a Lambda context,
returning Lambda's error shape (``errorType``/``errorMessage``) so Step Functions routes on the error name.
Everything else (the invoke API, Step Functions' lambda:invoke integration, retries, logs) stays moto's.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Any

from moto.awslambda.models import LambdaFunction

# Handlers read os.environ, which is process-wide: one invocation at a time keeps each function's
# environment exact (Map iterations then run one after another, as with a concurrency limit of 1).
# Re-entrant: a handler may invoke another function (the admin API asks the predict function for a smoke test).
_INVOCATION_LOCK = threading.RLock()
_HANDLERS: dict[str, str] = {}  # function name -> "package.module.attribute"
_original_invoke = LambdaFunction._invoke_lambda


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
    deadline_s: float

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_s - time.monotonic()) * 1000))


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


def _resolve(dotted: str) -> Any:
    module_name, _, attribute = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


@contextlib.contextmanager
def _environment(variables: dict[str, str]):
    saved = dict(os.environ)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def invoke_in_process(function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
    """Run the handler; return (response body, errored, logs) as moto's Docker path does."""
    dotted = _HANDLERS[function.function_name]
    if isinstance(event, str | bytes):
        event = json.loads(event or "{}")
    request_id = str(uuid.uuid4())
    context = LocalLambdaContext(
        function_name=function.function_name,
        function_version=function.version,
        invoked_function_arn=function.function_arn,
        memory_limit_in_mb=int(function.memory_size),
        aws_request_id=request_id,
        log_group_name=f"/aws/lambda/{function.function_name}",
        log_stream_name=f"local/{request_id}",
        deadline_s=time.monotonic() + float(function.timeout),
    )
    variables = {
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": function.version,
        "_HANDLER": function.handler,
        **{k: str(v) for k, v in function.environment_vars.items()},
    }
    logs = io.StringIO()
    with _INVOCATION_LOCK, _environment(variables), contextlib.redirect_stdout(logs):
        try:
            result = _resolve(dotted)(event, context)
            body, errored = json.dumps(result), False
        except TypeError as exc:
            if "JSON serializable" in str(exc):
                body, errored = json.dumps({"errorType": "Runtime.MarshalError", "errorMessage": str(exc)}), True
            else:
                body, errored = _error_body(exc), True
        except Exception as exc:
            body, errored = _error_body(exc), True
    output = logs.getvalue()
    function.logs_backend.ensure_log_group(function.logs_group_name)
    function.save_logs(output + body)
    return body, errored, output


def _error_body(exc: BaseException) -> str:
    return json.dumps(
        {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_tb(exc.__traceback__),
        }
    )


# ---- fault injection (tests and `make fuzz`) ----------------------------------------------------------------
FAULT_KINDS = ("exception", "timeout", "throttle", "service_error")
_faults: dict[str, list[str]] = {}  # function name -> kinds still to inject, one per invocation


def inject_fault(function_name: str, kind: str, times: int = 1_000_000) -> None:
    """Make the next ``times`` invocations of a function fail the way ``kind`` says:

    exception      the handler raises (a bug): Lambda reports its errorType
    timeout        the invocation exceeds the function's timeout: Lambda's ``Sandbox.Timedout``
    throttle       every S3/DynamoDB call the handler makes is throttled (``ThrottlingException``)
    service_error  the Lambda service itself fails the invoke (``Lambda.ServiceException``; retried by the ASL)
    """
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault {kind!r}; one of {FAULT_KINDS}")
    _faults[function_name] = [kind] * times


def clear_faults() -> None:
    _faults.clear()


class _ThrottledClient:
    def __init__(self, service: str) -> None:
        self.service = service

    def __getattr__(self, operation: str) -> Any:
        def throttled(*args: Any, **kwargs: Any) -> Any:
            from botocore.exceptions import ClientError  # noqa: PLC0415

            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation)

        return throttled


def _faulty_invoke(function: LambdaFunction, event: Any, kind: str) -> tuple[str, bool, str]:
    if kind == "exception":
        return _error_body(RuntimeError(f"injected fault in {function.function_name}")), True, ""
    if kind == "timeout":
        body = {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {function.timeout}.00 seconds"}
        return json.dumps(body), True, ""
    if kind == "service_error":
        from moto.core.exceptions import JsonRESTError  # noqa: PLC0415

        raise JsonRESTError("ServiceException", "injected Lambda service error")
    from mlops.storage import clients  # noqa: PLC0415 - the handler's clients, throttled for this invocation only

    # Under the invocation lock: Map iterations invoke from parallel threads, and an unguarded swap could
    # restore another thread's throttled factory for good.
    with _INVOCATION_LOCK:
        original = clients.client
        clients.client = lambda service: (
            _ThrottledClient(service) if service in ("s3", "dynamodb") else original(service)
        )
        try:
            return invoke_in_process(function, event)
        finally:
            clients.client = original


def _patched_invoke(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    pending = _faults.get(self.function_name)
    if pending:
        return _faulty_invoke(self, event, pending.pop())
    if self.function_name in _HANDLERS:
        return invoke_in_process(self, event)
    return _original_invoke(self, event)


def install() -> None:
    """Route moto's Lambda invocations of registered functions to their in-process handlers."""
    LambdaFunction._invoke_lambda = _patched_invoke


def installed() -> bool:
    return LambdaFunction._invoke_lambda is _patched_invoke
