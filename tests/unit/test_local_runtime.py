"""Guards of the two places the local stack changes moto: the in-process Lambda hook and atomic DynamoDB."""

from __future__ import annotations

import inspect
import json

from moto.awslambda.models import LambdaFunction

from local import atomicity, runtime
from tests.conftest import load_event


def test_moto_still_has_the_hooked_method_with_the_expected_shape():
    # If moto renames or reshapes this method, the in-process runtime must be revisited (moto is pinned).
    parameters = list(inspect.signature(runtime._original_invoke).parameters)
    assert parameters == ["self", "event"]
    assert "docker" in inspect.getsource(runtime._original_invoke)


def test_the_stack_installs_both_patches(stack):
    assert runtime.installed()
    assert LambdaFunction._invoke_lambda is runtime._patched_invoke
    assert atomicity.installed()


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
