"""Malformed Step Functions inputs for every step handler, on a stack seeded by the real pipeline.

The fixture runs the TrainingPipeline once with the request `python -m local write-events` uses, so the events
this test mutates (captured from that very execution) refer to a dataset, splits, candidates, a registered
version and an alias that exist. Then, for each step:

- the captured event, replayed, succeeds and returns what the step returned inside the execution;
- every mutation either succeeds with a result of the step's output shape, or raises a named domain error
  (a subclass of MlopsError, which Lambda reports as its errorType and the state machine routes on); an event
  the step's contract refuses raises InvalidStepInput; never a bare KeyError, TypeError or AttributeError.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
import logging
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from local.runs.datasets import breast_cancer_csv
from local.runs.event_files import (
    EVENTS_DIR,
    EXAMPLE_EXECUTION,
    EXAMPLE_REQUEST,
    _function_folder,
    map_results,
    started_execution_arn,
)
from local.runs.training import execution_history, run_training
from local.stack import LocalStack
from mlops.errors import (
    ArtifactIntegrityError,
    ArtifactMissing,
    CandidateTrainingFailed,
    DeploymentRefused,
    InvalidDataset,
    InvalidStepInput,
    InvalidTrainingRequest,
    LibraryVersionMismatch,
    MlopsError,
    ModelNotFound,
    NoCandidateTrained,
    SmokeTestFailed,
    VersionConflict,
)
from mlops.records import events as contracts
from tests.conftest import FakeLambdaContext

pytestmark = pytest.mark.fuzz
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150")) // 3

# (folder, case, the handler's input contract, the errors a malformed input may raise)
STEPS = [
    ("prepare", "breast_cancer", contracts.PrepareEvent, {InvalidTrainingRequest, InvalidDataset, ArtifactMissing}),
    (
        "train",
        "random_forest",
        contracts.TrainEvent,
        {InvalidTrainingRequest, InvalidDataset, CandidateTrainingFailed, ArtifactMissing},
    ),
    (
        "evaluate",
        "breast_cancer",
        contracts.EvaluateEvent,
        {InvalidTrainingRequest, InvalidDataset, ArtifactMissing, NoCandidateTrained},  # (no trial results read)
    ),
    ("convert", "breast_cancer", contracts.ConvertEvent, {ArtifactMissing, ArtifactIntegrityError}),
    ("register", "breast_cancer", contracts.RegisterEvent, {InvalidTrainingRequest, ArtifactMissing, VersionConflict}),
    ("deploy", "breast_cancer", contracts.DeployEvent, {ModelNotFound, DeploymentRefused, VersionConflict}),
    ("predict", "smoke_test", contracts.SmokeTestEvent, {ModelNotFound, SmokeTestFailed, ArtifactMissing}),
    ("predict", "parity_check", contracts.ParityCheckEvent, {ArtifactMissing, ArtifactIntegrityError}),
]
# Every step may also meet a stored artifact it cannot trust.
ALWAYS_NAMED = {InvalidStepInput, ArtifactIntegrityError, LibraryVersionMismatch, ArtifactMissing}
# What differs between two runs of the same step on the same input: wall-clock timings and timestamps.
VOLATILE_KEYS = {"fit_s", "duration_s", "elapsed_s", "at", "created_at", "updated_at", "registered_at"}
# What a replay after the execution answers differently, by design: checked on their own below.
STATE_DEPENDENT = {
    "evaluate": {"champion", "gate"},  # v1 is now the champion the challenger is compared with
    "convert": {"onnx_sha256", "onnx_size_bytes"},  # skl2onnx output is not byte-for-byte reproducible
    "register": {"created"},  # the run already registered v1: a replay registers nothing (idempotent)
    "deploy": {"changed"},  # the alias already points at v1: a replay changes nothing
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _case_of(folder: str, payload: dict[str, Any]) -> str:
    """The events/<folder>/<case>.json name local.runs.event_files gives this payload."""
    if folder == "train":
        return payload["candidate"]["estimator"]
    if folder == "predict":
        return payload["step"]
    return "breast_cancer"


def _task_io(stack: LocalStack, execution_arn: str) -> dict[tuple[str, str], tuple[dict, Any]]:
    """(folder, case) -> (the payload Step Functions sent, the Payload the function returned), from the history of
    an execution and of those it started and waited for (the Rollout, where Deploy runs)."""
    history = execution_history(stack, execution_arn)
    by_id = {event["id"]: event for event in history}
    io: dict[tuple[str, str], tuple[dict, Any]] = {}
    for event in history:
        if event["type"] != "TaskSucceeded":
            continue
        # TaskScheduled -> TaskStarted (-> TaskSubmitted, for a .sync integration) -> TaskSucceeded
        scheduled = by_id[event["previousEventId"]]
        while scheduled["type"] in ("TaskStarted", "TaskSubmitted"):
            scheduled = by_id[scheduled["previousEventId"]]
        assert scheduled["type"] == "TaskScheduled", scheduled
        started = started_execution_arn(scheduled)
        if started is not None:
            io.update(_task_io(stack, started))
            continue
        parameters = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])
        payload = parameters["Payload"]
        payload = json.loads(payload) if isinstance(payload, str) else payload
        folder = _function_folder(stack, parameters["FunctionName"])
        output = json.loads(event["taskSucceededEventDetails"]["output"])["Payload"]
        io[(folder, _case_of(folder, payload))] = (payload, output)
    return io


def _step_io(stack: LocalStack, execution_arn: str) -> dict[tuple[str, str], tuple[dict, Any]]:
    """Every step's (payload, result) of the example run, Train's included."""
    io = _task_io(stack, execution_arn)
    # Train runs in the Distributed Map's child executions: its inputs and outputs are in the ResultWriter's files
    evaluate_payload, _ = io[("evaluate", "breast_cancer")]
    results = map_results(stack, evaluate_payload) or {"Objects": {}}
    for key, document in results["Objects"].items():
        if key.endswith("SUCCEEDED_0.json"):
            for execution in document:
                payload = json.loads(execution["Input"])
                io[("train", _case_of("train", payload))] = (payload, json.loads(execution["Output"]))
    return io


@pytest.fixture(scope="module")
def example_run():
    """The stack after the execution the stored events were captured from, with its step inputs and outputs."""
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    saved = dict(os.environ)
    with LocalStack() as stack:
        os.environ.update(stack.environment())
        os.environ.update({"POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"})
        stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/breast-cancer.csv", Body=breast_cancer_csv())
        request = {**EXAMPLE_REQUEST, "dataset_uri": f"s3://{stack.bucket}/datasets/breast-cancer.csv"}
        result = run_training(stack, request, execution_name=EXAMPLE_EXECUTION)
        assert result.end_state == "Deployed", result.cause
        io = _step_io(stack, result.execution_arn)
        snapshot = _snapshot(stack)
        yield stack, io, snapshot
    os.environ.clear()
    os.environ.update(saved)


def _assert_state_dependent_parts(stack: LocalStack, function: str, replayed: dict[str, Any]) -> None:
    if function == "evaluate":
        assert replayed["champion"]["version"] == 1, replayed["champion"]
        assert replayed["gate"]["champion_score"] == replayed["champion"]["holdout_metrics"]["f1"], replayed["gate"]
    elif function == "convert":
        bucket, key = replayed["onnx_uri"].removeprefix("s3://").split("/", 1)
        stored = stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(stored).hexdigest() == replayed["onnx_sha256"]
    elif function == "register":
        assert replayed["created"] is False, replayed
        assert [v.version for v in stack.registry().list_versions("breast-cancer")] == [1]
    elif function == "deploy":
        assert replayed["changed"] is False, replayed  # idempotent: a retried Deploy moves nothing


def _snapshot(stack: LocalStack) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    s3, dynamodb = stack.client("s3"), stack.client("dynamodb")
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.bucket)
        for o in page.get("Contents", [])
    ]
    objects = {key: s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read() for key in keys}
    items = [i for page in dynamodb.get_paginator("scan").paginate(TableName=stack.table) for i in page["Items"]]
    return objects, items


def _restore(stack: LocalStack, snapshot: tuple[dict[str, bytes], list[dict[str, Any]]]) -> None:
    """Put the stack back as the execution left it: each test starts from the state its events were captured in."""
    objects, items = snapshot
    s3, dynamodb = stack.client("s3"), stack.client("dynamodb")
    current, current_items = _snapshot(stack)
    for key, body in current.items():
        if key not in objects:
            s3.delete_object(Bucket=stack.bucket, Key=key)
        elif body != objects[key]:
            s3.put_object(Bucket=stack.bucket, Key=key, Body=objects[key])
    for key, body in objects.items():
        if key not in current:
            s3.put_object(Bucket=stack.bucket, Key=key, Body=body)
    for item in current_items:
        dynamodb.delete_item(TableName=stack.table, Key={"pk": item["pk"], "sk": item["sk"]})
    for item in items:
        dynamodb.put_item(TableName=stack.table, Item=item)


@pytest.fixture
def example_state(example_run):
    stack, io, snapshot = example_run
    _restore(stack, snapshot)
    return stack, io


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _shape(value: Any) -> Any:
    """The key structure of a JSON document (dict keys, recursively; lists by their first item)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__ if value is not None else None


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


def _contract_accepts(contract: type[BaseModel], event: Any) -> bool:
    try:
        contract.model_validate(event)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("function", "case"), [(f, c) for f, c, *_ in STEPS])
def test_stored_event_has_the_shape_of_a_real_execution(example_run, function, case):
    # Given the events a real execution sends today; Then the committed file has the same structure.
    _, io, _ = example_run
    stored = json.loads((EVENTS_DIR / function / f"{case}.json").read_text())
    captured, _ = io[(function, case)]
    assert _shape(stored) == _shape(captured), f"events/{function}/{case}.json is stale: run `make events`"


@pytest.mark.parametrize(("function", "case", "contract", "domain_errors"), STEPS)
def test_step_handlers_refuse_malformed_input_with_named_errors(example_state, function, case, contract, domain_errors):
    stack, io = example_state
    handler = importlib.import_module(f"functions.{function}.app").lambda_handler
    event, recorded_output = io[(function, case)]

    # Given the event the execution sent; When it is replayed; Then the step returns what it returned then.
    replayed = handler(copy.deepcopy(event), FakeLambdaContext())
    ignored = STATE_DEPENDENT.get(function, set())
    assert {k: v for k, v in _stable(replayed).items() if k not in ignored} == {
        k: v for k, v in _stable(recorded_output).items() if k not in ignored
    }
    _assert_state_dependent_parts(stack, function, replayed)

    allowed = {error.__name__ for error in domain_errors | ALWAYS_NAMED}
    paths = list(_paths(event))
    outcomes: dict[str, int] = {}

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(path=st.sampled_from(paths), replacement=json_values, delete=st.booleans())
    def check(path, replacement, delete):
        mutated = _mutate(event, path, replacement, delete)
        accepted_by_contract = _contract_accepts(contract, mutated)
        try:
            result = handler(copy.deepcopy(mutated), FakeLambdaContext())
            if function == "predict" and not (isinstance(mutated, dict) and "step" in mutated):
                # Without a step the event is an HTTP request (API Gateway's): refused with a 4xx.
                assert 400 <= result["statusCode"] < 500, result
                outcomes["http-4xx"] = outcomes.get("http-4xx", 0) + 1
                return
        except MlopsError as exc:  # anything else (KeyError, TypeError, MissingSetting, ...) fails the test
            outcome = type(exc).__name__
            assert outcome in allowed, f"{outcome} is not a documented failure of {function}: {exc}"
            if not accepted_by_contract:
                assert isinstance(exc, InvalidStepInput), f"the contract refuses this event, yet: {outcome}: {exc}"
        else:
            outcome = "ok"
            assert accepted_by_contract, f"{function} accepted an event its contract refuses: {mutated!r}"
            # Same kind of answer as the real step: the keys the state machine reads are all there.
            assert set(result) >= set(recorded_output) - VOLATILE_KEYS, result
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    check()
    assert sum(outcomes.values()) >= 1
    print(f"\n{function}/{case}: {outcomes}")
