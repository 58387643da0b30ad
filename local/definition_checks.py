"""moto parses a state machine's definition on every CreateStateMachine (to validate it, then throws the parse
away) and again on every StartExecution; the training pipeline's takes most of a second to parse.

Every local stack creates the same state machines from the same definitions and runs them many times, so a
definition's parse is done once per process and kept by the definition's text:

* a definition that validated once is valid again; one never seen, or one that failed, is validated as moto
  validates it and fails the same way (a failure is never remembered);
* an execution evaluates the program parsed from its definition's text, as before; executions of the same
  definition share that program. Its components keep no execution's state on themselves (a Map or Parallel state
  already runs the same components in several threads at once): the state lives in each execution's environment.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

_original_validate = StepFunctionsParserBackend._validate_definition
_valid: set[str] = set()
_programs: dict[str, Any] = {}
_lock = threading.Lock()


def _validate_definition(definition: str) -> None:
    with _lock:
        if definition in _valid:
            return
    _original_validate(definition)  # raises InvalidDefinition for a bad one, which is never remembered
    with _lock:
        _valid.add(definition)


def _program(definition: str) -> Any:
    with _lock:
        program = _programs.get(definition)
    if program is None:
        program = AmazonStateLanguageParser.parse(definition)[0]
        with _lock:
            program = _programs.setdefault(definition, program)
    return program


def _get_evaluation_entrypoint(self: ExecutionWorker) -> Any:
    return _program(self._evaluation_details.state_machine_details.definition)


def install() -> None:
    StepFunctionsParserBackend._validate_definition = staticmethod(_validate_definition)
    ExecutionWorker._get_evaluation_entrypoint = _get_evaluation_entrypoint
