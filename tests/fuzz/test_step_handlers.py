"""Malformed Step Functions inputs for every step handler: each either works or raises a named domain error
(a subclass of MlopsError, reported by Lambda as its errorType and routed by the state machine), never a bare
KeyError, TypeError or AttributeError."""

from __future__ import annotations

import copy
import importlib
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops.errors import MlopsError
from mlops.settings import MissingSetting
from tests.conftest import FakeLambdaContext, load_event

pytestmark = pytest.mark.fuzz
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300")) // 3
STEPS = [
    ("prepare", "breast_cancer"),
    ("train", "random_forest"),
    ("evaluate", "breast_cancer"),
    ("convert", "breast_cancer"),
    ("register", "breast_cancer"),
    ("deploy", "breast_cancer"),
    ("predict", "smoke_test"),
    ("predict", "parity_check"),
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            yield from _paths(item, (*prefix, index))


def _mutate(event, path, replacement, delete):
    mutated = copy.deepcopy(event)
    if not path:
        return replacement
    parent = mutated
    for key in path[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return mutated


@pytest.mark.parametrize(("function", "case"), STEPS)
def test_step_handlers_refuse_malformed_input_with_named_errors(deployed, function, case):
    handler = importlib.import_module(f"functions.{function}.app").lambda_handler
    event = load_event(function, case)
    paths = list(_paths(event))
    outcomes: dict[str, int] = {}

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(path=st.sampled_from(paths), replacement=json_values, delete=st.booleans())
    def check(path, replacement, delete):
        mutated = _mutate(event, path, replacement, delete)
        try:
            handler(mutated, FakeLambdaContext())
            outcome = "ok"
        except MissingSetting:
            raise
        except MlopsError as exc:
            outcome = type(exc).__name__
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    check()
    print(f"\n{function}/{case}: {outcomes}")
