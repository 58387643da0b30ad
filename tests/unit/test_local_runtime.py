"""Guards of the two places the local stack changes moto: the in-process Lambda hook and atomic DynamoDB."""

from __future__ import annotations

import importlib
import json
import os
import threading
import time

import pytest
from moto.awslambda.models import LambdaFunction
from moto.dynamodb.models import DynamoDBBackend

from local import moto_patches, runtime
from local.emulated import atomicity
from local.template import ROOT, function_property, load_template
from tests.conftest import load_event


def test_the_stack_applies_the_moto_patches_register(stack):
    # The hook's guard (moto's version, the original's source, still Docker-only) is tests/unit/test_moto_patches.py.
    assert moto_patches.applied()
    assert LambdaFunction._invoke_lambda is runtime._patched_invoke
    assert DynamoDBBackend.transact_write_items is atomicity.SERIALISED["transact_write_items"]


def test_invoke_runs_the_real_handler_in_process(stack, breast_cancer_uri):
    event = load_event("prepare", "breast_cancer")
    response = stack.client("lambda").invoke(
        FunctionName=stack.function_names["PrepareFunction"], Payload=json.dumps(event).encode()
    )
    payload = json.loads(response["Payload"].read())

    assert "FunctionError" not in response
    assert payload["dataset"]["rows"] == 569
    assert payload["dataset"]["uri"] == breast_cancer_uri
    # The handler ran with the function's environment from the template, not the test's
    assert payload["dataset"]["splits"]["train"].startswith(f"s3://{stack.bucket}/runs/example/")


def test_a_raising_handler_gives_lambdas_error_shape(stack):
    response = stack.client("lambda").invoke(
        FunctionName=stack.function_names["PrepareFunction"], Payload=b'{"unexpected": true}'
    )
    payload = json.loads(response["Payload"].read())

    assert response["FunctionError"] == "Handled"
    assert payload["errorType"] == "InvalidStepInput"
    assert "execution_arn" in payload["errorMessage"]
    assert isinstance(payload["stackTrace"], list)


# ---- the function's Timeout, its own environment, overlapping invocations ---------------------------------------
HANDLERS = "tests.unit.runtime_handlers"


@pytest.fixture
def in_process():
    """These tests watch the handler's module state in this process (a stop event, a barrier): the in-process runtime,
    whatever MLOPS_LOCAL_WORKERS says. tests/unit/test_local_workers.py covers the same behaviour in workers."""
    with runtime.worker_processes(False):
        yield


def _use_test_handler(stack, logical_id: str, attribute: str, timeout_s: int | None = None) -> str:
    name = stack.function_names[logical_id]
    if timeout_s is not None:
        stack.client("lambda").update_function_configuration(FunctionName=name, Timeout=timeout_s)
    runtime.register_handler(name, "tests/unit/", f"runtime_handlers.{attribute}")
    return name


def test_a_handler_running_past_its_timeout_fails_as_lambda_does_and_is_stopped(stack, in_process):
    # Given a function whose Timeout is 1 s and whose handler never returns
    name = _use_test_handler(stack, "DeployFunction", "sleepy_handler", timeout_s=1)
    handlers = importlib.import_module(HANDLERS)  # the module the invocation runs (the stack forgets it after)

    # When it is invoked
    started = time.monotonic()
    response = stack.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    elapsed_s = time.monotonic() - started

    # Then the invocation fails with Lambda's timeout error after about the timeout, and the handler is stopped
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" in response
    assert payload["errorType"] == "Sandbox.Timedout"
    assert payload["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert 1.0 <= elapsed_s < 5.0
    assert handlers.stopped.wait(timeout=2.0)


def test_the_timeout_comes_from_the_template(stack):
    configuration = stack.client("lambda").get_function_configuration(
        FunctionName=stack.function_names["DeployFunction"]
    )
    template_timeout_s = function_property(load_template(ROOT / "template.yaml"), "DeployFunction", "Timeout", 3)
    assert configuration["Timeout"] == int(template_timeout_s)


def _invoke_both(stack, names: list[str], wait_s: float) -> list[dict]:
    importlib.import_module(HANDLERS).barrier_box["barrier"] = threading.Barrier(len(names))
    results: dict[str, dict] = {}

    def invoke(name: str) -> None:
        response = stack.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"wait_s": wait_s}).encode())
        results[name] = json.loads(response["Payload"].read())

    threads = [threading.Thread(target=invoke, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return [results[name] for name in names]


def test_parallel_invocations_overlap_each_with_its_own_environment(stack, in_process):
    names = [
        _use_test_handler(stack, logical_id, "environment_handler")
        for logical_id in ("DeployFunction", "ApprovalFunction")
    ]
    environment_before = dict(os.environ)

    with runtime.parallel():
        results = _invoke_both(stack, names, wait_s=10.0)

    assert [r["function_name"] for r in results] == names
    assert [r["written"] for r in results] == names  # each handler's write stayed in its own invocation
    assert all(r["overlapped"] for r in results)  # both were inside their handlers at once
    assert {r["registry_table"] for r in results} == {stack.table}  # the template's variables
    assert dict(os.environ) == environment_before  # nothing leaked into the process


def test_by_default_invocations_run_one_at_a_time(stack, in_process):
    names = [
        _use_test_handler(stack, logical_id, "environment_handler")
        for logical_id in ("DeployFunction", "ApprovalFunction")
    ]

    results = _invoke_both(stack, names, wait_s=0.5)

    assert not runtime.parallel_enabled()
    assert [r["overlapped"] for r in results] == [False, False]
    assert [r["function_name"] for r in results] == names
