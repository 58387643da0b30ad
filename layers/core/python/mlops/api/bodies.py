"""What the admin API refuses in a request body before any route reads it.

JSON as Python reads it accepts ``NaN``, ``Infinity`` and numbers too large for a float (``1e999`` becomes an
infinity): no setting, threshold or score can hold one, and DynamoDB cannot store one, so they are refused here (422)
rather than deep inside a route (a 502, or a run started with ``NaN`` in its input). A body nested deeper than the
parser follows is the caller's mistake (400), not a crash of the function.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class BodyProblem:
    status: int
    message: str
    error: str


class _NonFinite(ValueError):
    pass


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(f"the number {text} is not finite (beyond a double)")
    return value


def _no_constant(name: str) -> float:
    raise _NonFinite(f"{name} is not a JSON number")


def body_problem(text: str | None) -> BodyProblem | None:
    """Why the body is refused before routing (None: the routes validate it; malformed JSON is theirs to word)."""
    if not text:
        return None
    try:
        json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except _NonFinite as exc:
        return BodyProblem(422, f"invalid request: {exc}: every number must be finite", "NonFiniteNumber")
    except RecursionError:
        return BodyProblem(400, "the body is nested deeper than the API reads", "BadRequest")
    except ValueError:  # malformed JSON (JSONDecodeError is a ValueError): the route's validation answers it
        return None
    return None
