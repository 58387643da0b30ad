"""What moto's ASL interpreter leaves out of the Step Functions service integration (``arn:aws:states:::states:*``):
the translation between the ASL's parameter and result names and the API's.

An ASL task writes ``{"StateMachineArn": ..., "Name": ..., "Input": ...}`` and reads ``$.ExecutionArn``; the
StartExecution API (and botocore) call them ``stateMachineArn``, ``name``, ``input`` and ``executionArn``. AWS maps
one onto the other; moto's copy of the interpreter keeps the hooks for it (``_normalise_parameters`` and
``_normalise_response``) but leaves them empty for this service, so botocore refuses ``StateMachineArn``. This
module fills those two hooks from botocore's own service model (SNS and Lambda need nothing: their API names are
the ASL's already).

It also makes callback task tokens reproducible: moto draws each from a random generator; here a token is derived
from the execution, the state and how many tokens that state already had in it (uuid5). Tokens stay unique and
opaque, and the same executions run again (python -m local aws-server --example) hand out the tokens events/ holds,
so a replayed approval event names the token its version is waiting with.
"""

from __future__ import annotations

import datetime
import itertools
import threading
import uuid
from collections import defaultdict
from functools import cache
from typing import Any

import boto3
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.asl.eval.states import ContextObject, TaskData

_original_parameters = StateTaskServiceSfn._normalise_parameters
_original_response = StateTaskServiceSfn._normalise_response
_TOKENS = uuid.UUID("5f0c3d5e-7f43-4d1e-9a54-6d1f2b7c0a11")  # the uuid5 namespace of local task tokens
_token_counts: defaultdict[tuple[str, str], itertools.count] = defaultdict(itertools.count)
_token_lock = threading.Lock()


def _task_token(self: ContextObject) -> str:
    """A token per (execution, state, n-th token of that state in that execution), like moto's a fresh one each time."""
    context = self.context_object_data
    execution, state = context["Execution"]["Id"], context["State"]["Name"]
    with _token_lock:
        count = next(_token_counts[(execution, state)])
    token = str(uuid.uuid5(_TOKENS, f"{execution}|{state}|{count}"))
    context["Task"] = TaskData(Token=token)
    return token


@cache
def _members(operation: str) -> dict[str, str]:
    """lower-case name -> the API's name, for an operation of the Step Functions API."""
    model = boto3.session.Session().client("stepfunctions", region_name="us-east-1").meta.service_model
    shape = model.operation_model(operation).input_shape
    return {name.lower(): name for name in shape.members}


def _operation(action: str) -> str:
    return "".join(part.capitalize() for part in action.split("_"))


def _parameters(
    self: StateTaskServiceSfn,
    parameters: dict[str, Any],
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    _original_parameters(self, parameters, boto_service_name, service_action_name)
    members = _members(_operation(service_action_name or self._get_boto_service_action()))
    for key in list(parameters):
        api_name = members.get(key.lower())
        if api_name and api_name != key:
            parameters[api_name] = parameters.pop(key)


def _response(
    self: StateTaskServiceSfn,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    _original_response(self, response, boto_service_name, service_action_name)
    if not isinstance(response, dict):
        return
    for key in list(response):
        value = response.pop(key)
        if isinstance(value, datetime.datetime):
            value = value.isoformat()
        response[key[:1].upper() + key[1:]] = value


def forget_tokens() -> None:
    """A new local stack starts its executions' token counts afresh (its executions are new)."""
    with _token_lock:
        _token_counts.clear()
