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

from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
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


def _give_heap_keys(component: Any, seen: set[int]) -> None:
    """A component draws its heap key (where an execution's environment keeps e.g. a Retrier's attempt count) on first
    use; two executions using it first at once could draw two. Drawn here, once, before any execution runs."""
    if id(component) in seen or isinstance(component, str | bytes | int | float | bool | type(None)):
        return
    seen.add(id(component))
    if isinstance(component, EvalComponent):
        _ = component.heap_key
    children = component.values() if isinstance(component, dict) else component
    if isinstance(children, list | tuple | set | frozenset) or isinstance(component, dict):
        for child in list(children):
            _give_heap_keys(child, seen)
    elif hasattr(component, "__dict__"):
        for child in vars(component).values():
            _give_heap_keys(child, seen)


def _program(definition: str) -> Any:
    with _lock:
        program = _programs.get(definition)
    if program is None:
        program = AmazonStateLanguageParser.parse(definition)[0]
        _give_heap_keys(program, set())
        with _lock:
            program = _programs.setdefault(definition, program)
    return program


def _get_evaluation_entrypoint(self: ExecutionWorker) -> Any:
    return _program(self._evaluation_details.state_machine_details.definition)
