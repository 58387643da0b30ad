"""moto parses a state machine's definition to validate it on every CreateStateMachine, and throws the parse away.

Every local stack creates the same four state machines from the same definitions, and the training pipeline's
takes most of a second to parse: a definition that parsed once parses again, so its validation is remembered by
the definition's text. A definition never seen, or one that failed, is parsed as moto parses it and fails the
same way. Executions still parse their definition for themselves (the parse is what they run).
"""

from __future__ import annotations

import threading

from moto.stepfunctions.parser.models import StepFunctionsParserBackend

_original_validate = StepFunctionsParserBackend._validate_definition
_valid: set[str] = set()
_lock = threading.Lock()


def _validate_definition(definition: str) -> None:
    with _lock:
        if definition in _valid:
            return
    _original_validate(definition)  # raises InvalidDefinition for a bad one, which is never remembered
    with _lock:
        _valid.add(definition)


def install() -> None:
    StepFunctionsParserBackend._validate_definition = staticmethod(_validate_definition)
