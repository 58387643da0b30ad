"""The AWS quotas the project meets, each shown at and just over its limit on the local stack.

Some are moto's own (Step Functions' 256 KiB state result, DynamoDB's 400 KB item, SNS's 256 KiB message); the
rest are enforced by ``local/emulated/quotas.py`` and ``local/runtime.py`` (Lambda's 6 MB payloads, Step Functions' rule
that ``States.ALL`` does not catch ``States.DataLimitExceeded``, the function's ``Timeout``:
tests/unit/test_local_runtime.py). docs/architecture.md has the table.
"""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError
from moto.awslambda.models import LambdaFunction
from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl

from local import runtime
from local.emulated import quotas
from local.runs.training import execution_history

STATE_LIMIT = 256 * 1024
LAMBDA_LIMIT = quotas.LAMBDA_SYNC_PAYLOAD_BYTES


def _sized_function(stack) -> str:
    name = stack.function_names["DeployFunction"]
    runtime.register_handler(name, "tests/unit/", "runtime_handlers.sized_handler")
    return name


def _invoke(stack, name: str, event: dict) -> tuple[dict, str | None]:
    response = stack.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return json.loads(response["Payload"].read()), response.get("FunctionError")


# ---- Lambda: 6 MB synchronous response and request ---------------------------------------------------------
def test_a_response_at_lambdas_limit_is_returned():
    # exact, for every path (moto's invoke API itself cuts at ~6,000,000 bytes of Python object size, a little early;
    # Step Functions' lambda:invoke path has no check of its own)
    assert quotas.response_too_large("x" * LAMBDA_LIMIT) is None
    assert (
        json.loads(quotas.response_too_large("x" * (LAMBDA_LIMIT + 1)))["errorType"] == "Function.ResponseSizeTooLarge"
    )


def test_a_large_response_under_the_limit_is_returned(stack):
    payload, error = _invoke(stack, _sized_function(stack), {"size_bytes": 5_900_000})
    assert error is None and len(json.dumps(payload)) == 5_900_000


def test_a_response_just_over_lambdas_limit_fails_the_invocation(stack):
    payload, error = _invoke(stack, _sized_function(stack), {"size_bytes": LAMBDA_LIMIT + 1})
    assert error is not None
    assert payload["errorType"] == "Function.ResponseSizeTooLarge"
    assert f"({LAMBDA_LIMIT} bytes)" in payload["errorMessage"]


def test_a_request_just_over_lambdas_limit_is_refused(stack):
    name = _sized_function(stack)
    event = {"size_bytes": 10, "padding": ""}
    event["padding"] = "x" * (LAMBDA_LIMIT + 1 - len(json.dumps(event)))
    with pytest.raises(ClientError) as refused:
        _invoke(stack, name, event)
    assert refused.value.response["Error"]["Code"] == "RequestTooLargeException"
    event["padding"] = event["padding"][:-1]  # at the limit: accepted
    assert _invoke(stack, name, event)[1] is None


# ---- Step Functions: 256 KiB per state, and what States.ALL catches ------------------------------------------
def _run(stack, function_name: str, size_bytes: int, catch: list[str] | None) -> tuple[dict, list[dict]]:
    arn = stack.client("lambda").get_function(FunctionName=function_name)["Configuration"]["FunctionArn"]
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": arn, "Payload": {"size_bytes": size_bytes}},
        "ResultSelector": {"size.$": "States.ArrayLength(States.StringSplit($.Payload.padding, 'y'))"},
        "End": True,
    }
    states = {"Call": task}
    if catch is not None:
        task["Catch"] = [{"ErrorEquals": catch, "Next": "Caught"}]
        states["Caught"] = {"Type": "Pass", "End": True}
    sfn = stack.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"quota-{time.monotonic_ns()}",
        definition=json.dumps({"StartAt": "Call", "States": states}),
        roleArn="arn:aws:iam::123456789012:role/quota-test",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not finish"
        time.sleep(0.05)
    return described, execution_history(stack, execution)


def test_a_state_result_under_256_kib_passes(stack):
    described, _ = _run(stack, _sized_function(stack), STATE_LIMIT - 64, catch=None)
    assert described["status"] == "SUCCEEDED"


def test_a_state_result_just_over_256_kib_fails_with_data_limit_exceeded(stack):
    described, _ = _run(stack, _sized_function(stack), STATE_LIMIT + 1, catch=None)
    assert (described["status"], described["error"]) == ("FAILED", "States.DataLimitExceeded")


def test_states_all_does_not_catch_data_limit_exceeded_as_on_aws(stack):
    described, _ = _run(stack, _sized_function(stack), STATE_LIMIT + 1, catch=["States.ALL"])
    assert (described["status"], described["error"]) == ("FAILED", "States.DataLimitExceeded")


def test_a_catch_that_names_data_limit_exceeded_catches_it(stack):
    described, history = _run(stack, _sized_function(stack), STATE_LIMIT + 1, catch=["States.DataLimitExceeded"])
    assert described["status"] == "SUCCEEDED"
    assert "Caught" in [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]


def test_the_quota_patches_are_applied(stack):
    assert ErrorEqualsDecl._eval_body is quotas._error_equals
    assert LambdaFunction._invoke_lambda is runtime._patched_invoke


# ---- moto's own: DynamoDB's 400 KB item, SNS's 256 KiB message ---------------------------------------------
def _item(size: int) -> dict:
    return {"pk": {"S": "MODEL#quota"}, "sk": {"S": "VERSION#000001"}, "blob": {"S": "x" * size}}


def test_a_dynamodb_item_over_400_kb_is_refused(stack):
    dynamodb = stack.client("dynamodb")
    dynamodb.put_item(TableName=stack.table, Item=_item(399_000))
    with pytest.raises(ClientError) as refused:
        dynamodb.put_item(TableName=stack.table, Item=_item(400 * 1024 + 1))
    assert "size has exceeded the maximum allowed size" in str(refused.value)


def test_an_sns_message_over_256_kib_is_refused(stack):
    sns = stack.client("sns")
    topic = sns.create_topic(Name="quota-topic")["TopicArn"]
    sns.publish(TopicArn=topic, Message="x" * STATE_LIMIT)
    with pytest.raises(ClientError) as refused:
        sns.publish(TopicArn=topic, Message="x" * (STATE_LIMIT + 1))
    assert "too long" in str(refused.value)
