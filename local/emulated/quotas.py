"""AWS quotas the project meets that moto does not enforce, enforced on the local stack.

moto already refuses a state result over Step Functions' 256 KiB (``States.DataLimitExceeded``), a DynamoDB item
over 400 KB (``ValidationException``: item size has exceeded the maximum allowed size) and an SNS message over
256 KiB; the local runtime enforces each function's ``Timeout`` (``local/runtime.py``). This adds:

* Step Functions' catch semantics for its terminal errors: ``States.ALL`` does not catch
  ``States.DataLimitExceeded`` or ``States.Runtime`` on AWS (a Catch must name them); moto's ``States.ALL``
  caught everything, so a definition that only worked locally could ship;
* Lambda's 6 MB payload quota for synchronous invocations, both ways: a larger request is refused
  (``RequestTooLargeException``), a larger response fails the invocation (``Function.ResponseSizeTooLarge``).

docs/architecture.md lists every quota the project meets, what enforces it locally and the test that shows it.
"""

from __future__ import annotations

import json
from typing import Any

from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.eval.environment import Environment

# Step Functions errors that States.ALL does not match (a Catch or Retry must name them).
NOT_MATCHED_BY_STATES_ALL = ("States.DataLimitExceeded", "States.Runtime")
LAMBDA_SYNC_PAYLOAD_BYTES = 6_291_556  # Lambda's synchronous request and response quota (6 MB)
# CloudWatch Logs: an event is its message's UTF-8 bytes plus 26 bytes of overhead, at most 256 KiB for the events
# Lambda writes from a function's output (a longer line arrives as several events).
LOG_EVENT_OVERHEAD_BYTES = 26
LAMBDA_LOG_EVENT_BYTES = 262_144

_original_eval_body = ErrorEqualsDecl._eval_body
_STATES_ALL = StatesErrorName(typ=StatesErrorNameType.StatesALL)


def _error_equals(self: ErrorEqualsDecl, env: Environment) -> None:
    error_name = env.stack[-1]
    terminal = getattr(error_name, "error_name", None) in NOT_MATCHED_BY_STATES_ALL
    if terminal and self.error_names == [_STATES_ALL]:
        env.stack.pop()
        env.stack.append(False)
        return
    _original_eval_body(self, env)


def response_too_large(body: str) -> str | None:
    """Lambda's error for a response over the synchronous quota, or None."""
    size = len(body.encode())
    if size <= LAMBDA_SYNC_PAYLOAD_BYTES:
        return None
    limit = LAMBDA_SYNC_PAYLOAD_BYTES
    message = f"Response payload size ({size} bytes) exceeded maximum allowed payload size ({limit} bytes)."
    return json.dumps({"errorType": "Function.ResponseSizeTooLarge", "errorMessage": message})


def check_request_size(event: Any) -> None:
    """Refuse an invocation whose payload is over the synchronous quota, as the Lambda API does (HTTP 413)."""
    payload = event if isinstance(event, str | bytes) else json.dumps(event)
    size = len(payload.encode() if isinstance(payload, str) else payload)
    if size > LAMBDA_SYNC_PAYLOAD_BYTES:
        from moto.core.exceptions import JsonRESTError  # noqa: PLC0415

        error = JsonRESTError(
            "RequestTooLargeException",
            f"Request must be smaller than {LAMBDA_SYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation",
        )
        error.code = 413
        raise error


def split_log_lines(output: str, limit_bytes: int | None = None) -> str:
    """A function's output as Lambda hands it to CloudWatch Logs: a line whose event would be over the event quota is
    cut into consecutive lines (events) that each fit, at character boundaries."""
    limit = (limit_bytes or LAMBDA_LOG_EVENT_BYTES) - LOG_EVENT_OVERHEAD_BYTES
    lines = []
    for line in output.splitlines():
        encoded = line.encode()
        while len(encoded) > limit:
            piece = encoded[:limit].decode("utf-8", errors="ignore")  # never half a character
            lines.append(piece)
            encoded = encoded[len(piece.encode()) :]
        lines.append(encoded.decode())
    return "\n".join(lines)
