"""Step Functions executions as the admin API names them: a run or a job is an execution of a known state machine,
addressed by its name."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


def describe_execution(sfn: Any, arn: str) -> dict[str, Any] | None:
    try:
        return sfn.describe_execution(executionArn=arn)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ExecutionDoesNotExist":
            return None
        raise
