"""The local Lambda runtime's worker processes (local/workers.py): warm execution environments per function, the
function's ``Timeout`` and ``MemorySize`` enforced by killing the worker, Lambda's error shapes, logs and nesting."""

from __future__ import annotations

import json
import os
import threading

import pytest

from local import runtime, workers

pytestmark = pytest.mark.integration


@pytest.fixture
def worker_stack(stack):
    with runtime.worker_processes():
        yield stack


def _use_test_handler(stack, logical_id: str, attribute: str, **configuration) -> str:
    name = stack.function_names[logical_id]
    if configuration:
        stack.client("lambda").update_function_configuration(FunctionName=name, **configuration)
    runtime.register_handler(name, "tests/unit/", f"runtime_handlers.{attribute}")
    return name


def _invoke(stack, name: str, event: dict) -> tuple[dict, str | None]:
    response = stack.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return json.loads(response["Payload"].read()), response.get("FunctionError")


def test_an_invocation_runs_in_a_warm_worker_with_the_functions_environment(worker_stack):
    name = _use_test_handler(worker_stack, "DeployFunction", "process_handler")

    first, error = _invoke(worker_stack, name, {})
    second, _ = _invoke(worker_stack, name, {})

    assert error is None
    assert first["pid"] != os.getpid()  # another process
    assert second["pid"] == first["pid"]  # the same environment, reused while warm
    assert runtime.worker_pools()[name].started == 1
    assert first["function_name"] == name and first["registry_table"] == worker_stack.table  # the template's values
    assert first["endpoint"].startswith("http://127.0.0.1:")  # AWS calls go to the stack's server


def test_a_raising_handler_in_a_worker_gives_lambdas_error_shape_and_its_logs(worker_stack):
    response = worker_stack.client("lambda").invoke(
        FunctionName=worker_stack.function_names["PrepareFunction"], Payload=b'{"unexpected": true}', LogType="Tail"
    )
    payload = json.loads(response["Payload"].read())

    assert response["FunctionError"] == "Handled"
    assert payload["errorType"] == "InvalidStepInput"
    assert isinstance(payload["stackTrace"], list) and payload["stackTrace"]


def test_a_handler_past_its_timeout_is_killed_and_its_worker_replaced(worker_stack):
    name = _use_test_handler(worker_stack, "DeployFunction", "printing_sleeper", Timeout=1)

    payload, error = _invoke(worker_stack, name, {})

    assert error is not None
    assert payload["errorType"] == "Sandbox.Timedout"
    assert payload["errorMessage"].endswith("Task timed out after 1.00 seconds")
    # What it printed before it was killed is in the function's logs
    logs = worker_stack.client("logs")
    group = f"/aws/lambda/{name}"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    messages = [
        e["message"]
        for s in streams
        for e in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"]
    ]
    assert "started, now sleeping" in messages
    # The killed environment is gone; the next invocation gets a new one
    runtime.register_handler(name, "tests/unit/", "runtime_handlers.process_handler")
    answer, error = _invoke(worker_stack, name, {})
    assert error is None and answer["pid"] != os.getpid()


# ---- MemorySize --------------------------------------------------------------------------------------------------
MEMORY_SIZE_MB = 512


def test_a_handler_just_under_its_memory_size_returns(worker_stack):
    name = _use_test_handler(worker_stack, "DeployFunction", "memory_handler", MemorySize=MEMORY_SIZE_MB)

    payload, error = _invoke(worker_stack, name, {"resident_mib": MEMORY_SIZE_MB - 24})

    assert error is None, payload
    assert MEMORY_SIZE_MB - 40 < payload["resident_mib"] <= MEMORY_SIZE_MB
    assert payload["limit_mib"] == MEMORY_SIZE_MB


def test_a_handler_just_over_its_memory_size_fails_as_lambda_does_and_the_worker_is_replaced(worker_stack):
    name = _use_test_handler(worker_stack, "DeployFunction", "memory_handler", MemorySize=MEMORY_SIZE_MB)

    payload, error = _invoke(worker_stack, name, {"resident_mib": MEMORY_SIZE_MB + 16})

    assert error is not None
    assert payload["errorType"] == "Runtime.ExitError"
    assert payload["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    # A new environment answers the next invocation
    answer, error = _invoke(worker_stack, name, {"resident_mib": 0, "hold_s": 0})
    assert error is None
    assert runtime.worker_pools()[name].started == 2


def test_resident_memory_is_read_for_live_processes_only():
    assert workers.resident_bytes(os.getpid()) > 10 * workers.MIB
    assert workers.resident_bytes(2**22 + 12345) is None  # above pid_max: never a process


# ---- parallel, nested -------------------------------------------------------------------------------------------
def test_concurrent_invocations_run_in_separate_workers_at_once(worker_stack):
    name = _use_test_handler(worker_stack, "DeployFunction", "process_handler")
    results: list[dict] = []

    def invoke() -> None:
        results.append(_invoke(worker_stack, name, {"busy_s": 1.5})[0])

    threads = [threading.Thread(target=invoke) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len({r["pid"] for r in results}) == 2  # two environments
    first, second = sorted(results, key=lambda r: r["started_s"])
    assert second["started_s"] < first["ended_s"]  # inside their handlers at the same time


def test_the_pipeline_runs_in_workers_with_the_deploy_steps_nested_smoke_test(worker_stack, breast_cancer_uri):
    from local.runs.training import run_training  # noqa: PLC0415

    request = {
        "model_name": "bc",
        "dataset_uri": breast_cancer_uri,
        "target": "target",
        "candidates": [
            {"estimator": "logistic_regression", "params": {"C": 1.0, "max_iter": 2000}},
            {"estimator": "decision_tree", "params": {"max_depth": 2}},
        ],
        "gate": {"metric": "f1", "min_score": 0.8},
        "requested_by": "tests",
    }

    result = run_training(worker_stack, request)

    assert result.status == "SUCCEEDED", result
    pools = runtime.worker_pools()
    # Deploy invoked the predict function (its smoke test) from its worker, through the stack's server
    assert pools[worker_stack.function_names["DeployFunction"]].started >= 1
    assert pools[worker_stack.function_names["PredictFunction"]].started >= 1
