"""One Lambda execution environment for tools/smoke_built.py: a clean Python that sees only a function's built folder,
its built layers, the standard library and the boto3 the Lambda runtime provides, and runs the handler as the
Lambda Python runtime does (init once, then one invocation at a time).

    python3.13 -I -S -B tools/lambda_worker.py CONFIG      # CONFIG: JSON, see main(); standard library only

-I ignores PYTHON* variables and the user's site-packages and keeps this file's folder off sys.path, -S keeps the
interpreter's own site-packages off it, -B writes no bytecode (Lambda's /var/task and /opt are read-only, and the
built folders must stay as sam build made them).

Protocol, one JSON document per line: the first line out reports the init (`{"init_s": ..., "error": ...}`); then
each line in is an invocation (`{"event", "request_id", "trace_id", "timeout_s"}`) and each line out its outcome
(`{"result"}` or `{"error": {"errorType", "errorMessage", "stackTrace"}}`, with `logs`, `duration_s` and
`foreign_modules`: modules loaded from anywhere but the allowed folders). The handler's prints and log records go
to the invocation's `logs`, as they go to CloudWatch Logs; the protocol uses a private copy of stdout.
"""

import importlib
import io
import json
import os
import sys
import time
import traceback


class InvocationLogs(io.TextIOBase):
    """sys.stdout during an invocation: what the handler writes is collected for that invocation's logs."""

    def __init__(self):
        self.parts = []

    def writable(self):
        return True

    def write(self, text):
        self.parts.append(text)
        return len(text)

    def take(self):
        text, self.parts = "".join(self.parts), []
        return text


class LambdaContext:
    """The context object of the Lambda Python runtime (the attributes handlers and Powertools read)."""

    def __init__(self, request, environment):
        self.function_name = environment["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = environment["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = request["invoked_function_arn"]
        self.memory_limit_in_mb = int(environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request["request_id"]
        self.log_group_name = environment["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = environment["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + float(request["timeout_s"])

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def error_document(exc, error_type=None):
    return {
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def foreign_modules(allowed, forbidden):
    """Modules loaded from outside the allowed folders, or from the interpreter's own site-packages (there should
    be none: sys.path holds only the allowed folders)."""
    found = []
    for name, module in list(sys.modules.items()):
        if name in ("__main__", "__mp_main__"):  # this bootstrap, the Lambda runtime's own code
            continue
        path = getattr(module, "__file__", None)
        if path and (not os.path.realpath(path).startswith(allowed) or os.path.realpath(path).startswith(forbidden)):
            found.append(f"{name} ({path})")
    return found


def main():
    config = json.loads(sys.argv[1])
    # the protocol gets a private copy of stdout; C-level writes to fd 1 go to stderr, Python's to the invocation
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    logs = InvocationLogs()
    sys.stdout = logs
    standard_library = [path for path in sys.path if path]  # -I -S: the stdlib zip, lib/python3.x, lib-dynload
    sys.path[:] = [config["task_root"], *config["layer_paths"], *standard_library, config["runtime_path"]]
    allowed = tuple(os.path.realpath(path) + os.sep for path in sys.path)
    forbidden = tuple(os.path.realpath(path) + os.sep + "site-packages" + os.sep for path in standard_library)

    started = time.perf_counter()
    module_name, _, attribute = config["handler"].rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
        init = {"init_s": time.perf_counter() - started, "error": None}
    except Exception as exc:  # Lambda reports this as Runtime.ImportModuleError on every invocation
        handler = None
        init = {"init_s": time.perf_counter() - started, "error": error_document(exc, "Runtime.ImportModuleError")}
    init |= {
        "logs": logs.take(),
        "foreign_modules": foreign_modules(allowed, forbidden),
        "python": sys.version.split()[0],
    }
    protocol.write(json.dumps(init) + "\n")

    for line in sys.stdin:
        request = json.loads(line)
        os.environ["_X_AMZN_TRACE_ID"] = request["trace_id"]
        started = time.perf_counter()
        outcome = {}
        if handler is None:
            outcome["error"] = init["error"]
        else:
            try:
                result = handler(request["event"], LambdaContext(request, os.environ))
                outcome["result"] = json.loads(json.dumps(result))
            except TypeError as exc:
                marshal = "JSON serializable" in str(exc)
                outcome["error"] = error_document(exc, "Runtime.MarshalError" if marshal else None)
            except Exception as exc:
                outcome["error"] = error_document(exc)
        outcome |= {
            "duration_s": time.perf_counter() - started,
            "logs": logs.take(),
            "foreign_modules": foreign_modules(allowed, forbidden),
        }
        protocol.write(json.dumps(outcome) + "\n")


if __name__ == "__main__":
    main()
