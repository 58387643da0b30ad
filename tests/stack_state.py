"""What a local stack holds, by content: to show that a request changed nothing, or exactly what it changed.

Counting items and keys misses an overwrite, an alias moved in place and a started execution; this compares
every DynamoDB item of every table attribute by attribute, every S3 object version by key, version id and ETag,
and every Step Functions execution by ARN and status.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from local.stack import LocalStack


@dataclass(frozen=True)
class StackState:
    items: dict[tuple[str, str, str], dict[str, Any]]  # (table, pk, sk) -> the item as DynamoDB returns it
    objects: dict[tuple[str, str], str]  # (key, version id) -> ETag, every version of every object
    executions: dict[str, str]  # execution ARN -> status, over every state machine

    def changes_since(self, before: StackState) -> dict[str, Any]:
        """What differs from ``before``: empty when nothing was written."""
        changed = {
            "items": sorted(
                key for key in self.items.keys() | before.items.keys() if self.items.get(key) != before.items.get(key)
            ),
            "objects": sorted(self.objects.keys() ^ before.objects.keys())
            + sorted(k for k in self.objects.keys() & before.objects.keys() if self.objects[k] != before.objects[k]),
            "executions": sorted(
                arn
                for arn in self.executions.keys() | before.executions.keys()
                if self.executions.get(arn) != before.executions.get(arn)
            ),
        }
        return {kind: keys for kind, keys in changed.items() if keys}


def stack_state(stack: LocalStack) -> StackState:
    dynamodb, s3, sfn = stack.client("dynamodb"), stack.client("s3"), stack.client("stepfunctions")
    items = {
        (table, item["pk"]["S"], item["sk"]["S"]): item
        for table in (stack.table, stack.alias_table, stack.audit_table, stack.monitor_table)
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        for item in page["Items"]
    }
    objects = {
        (version["Key"], version["VersionId"]): version["ETag"]
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=stack.bucket)
        for version in page.get("Versions", [])
    }
    objects.update(
        {
            (marker["Key"], marker["VersionId"]): "delete-marker"
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=stack.bucket)
            for marker in page.get("DeleteMarkers", [])
        }
    )
    executions = {
        execution["executionArn"]: execution["status"]
        for arn in stack.state_machine_arns.values()
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
        for execution in page["executions"]
    }
    return StackState(items, objects, executions)


def wait_until_quiet(stack: LocalStack, timeout_s: float = 120.0) -> None:
    """Wait (bounded) until no execution is running: a run started earlier writes as it goes, and its writes must
    not be taken for the effect of the request under test."""
    sfn = stack.client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    while any(
        execution["status"] == "RUNNING"
        for arn in stack.state_machine_arns.values()
        for execution in sfn.list_executions(stateMachineArn=arn)["executions"]
    ):
        if time.monotonic() > deadline:
            raise TimeoutError(f"executions still running after {timeout_s} s")
        time.sleep(0.05)
