"""The template's state machines and their ASL files, read the way the contract tests need them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.template import ROOT, resources_of_type

PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"

# The one definition of the blocks every ASL file repeats (STYLE.md section 10). ASL has no way to share a block, so
# each task carries its copy; the contract tests compare every copy with these, and name the tasks that differ.
# Every Lambda task's first retrier: Lambda's transient service errors, with back-off and full jitter.
LAMBDA_RETRY = {
    "ErrorEquals": [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    ],
    "IntervalSeconds": 2,
    "MaxAttempts": 3,
    "BackoffRate": 2,
    "JitterStrategy": "FULL",
}
# An idempotent step retries a timed-out invocation (after the block above): the same block wherever it does.
TIMEOUT_RETRY = {
    "ErrorEquals": ["Sandbox.Timedout"],
    "IntervalSeconds": 1,
    "MaxAttempts": 2,
    "BackoffRate": 2,
    "JitterStrategy": "FULL",
}
# On AWS, States.ALL catches neither of these: a Catch list that ends in States.ALL names them just before it.
NOT_CAUGHT_BY_STATES_ALL = ["States.DataLimitExceeded", "States.Runtime"]


@dataclass(frozen=True)
class StateMachineSource:
    logical_id: str
    asl_path: Path
    substitutions: dict[str, Any]

    @property
    def text(self) -> str:
        return self.asl_path.read_text()

    def placeholders(self) -> set[str]:
        return set(PLACEHOLDER.findall(self.text))

    def fake_arn(self, key: str) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.logical_id}-{key}"

    def substituted_text(self) -> str:
        """The ASL with each `${Key}` replaced by a fake ARN, as CloudFormation replaces it with the real one."""
        return PLACEHOLDER.sub(lambda match: self.fake_arn(match.group(1)), self.text)

    def definition(self) -> dict[str, Any]:
        """The ASL as written (placeholders are inside strings, so it is JSON as it stands)."""
        return json.loads(self.text)


def state_machine_sources(template: dict[str, Any]) -> list[StateMachineSource]:
    return [
        StateMachineSource(
            logical_id,
            ROOT / resource["Properties"]["DefinitionUri"],
            resource["Properties"].get("DefinitionSubstitutions", {}),
        )
        for logical_id, resource in sorted(resources_of_type(template, "AWS::Serverless::StateMachine").items())
    ]


@dataclass(frozen=True)
class StateInScope:
    name: str
    state: dict[str, Any]
    scope: dict[str, Any]  # the `States` object holding it: transitions cannot leave it
    path: str  # where it is, for messages: "TrainTrials/ItemProcessor/TrainTrial"


def nested_scopes(state: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The state machines nested in a Map (ItemProcessor, or the older Iterator) or a Parallel (Branches)."""
    scopes = [(key, state[key]) for key in ("ItemProcessor", "Iterator") if key in state]
    scopes += [(f"Branches[{index}]", branch) for index, branch in enumerate(state.get("Branches", []))]
    return scopes


def walk(machine: dict[str, Any], prefix: str = "") -> Iterator[StateInScope]:
    """Every state of a definition, nested ones included."""
    for name, state in machine["States"].items():
        path = f"{prefix}{name}"
        yield StateInScope(name, state, machine["States"], path)
        for key, nested in nested_scopes(state):
            yield from walk(nested, f"{path}/{key}/")


def scopes(machine: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """The definition itself and every nested state machine in it, each with its StartAt and States."""
    yield prefix or "(top level)", machine
    for name, state in machine["States"].items():
        for key, nested in nested_scopes(state):
            yield from scopes(nested, f"{prefix}{name}/{key}/")


def transitions(state: dict[str, Any]) -> list[str]:
    """Every state name this state can move to: Next, a Choice's rules and Default, each Catch's Next."""
    targets = [state["Next"]] if "Next" in state else []
    targets += [rule["Next"] for rule in state.get("Choices", []) if "Next" in rule]
    targets += [state["Default"]] if "Default" in state else []
    targets += [catcher["Next"] for catcher in state.get("Catch", []) if "Next" in catcher]
    return targets


def lambda_target(state: dict[str, Any]) -> str | None:
    """What a Task names as its Lambda function (`lambda:invoke`'s FunctionName, or a placeholder Resource)."""
    if state.get("Type") != "Task":
        return None
    resource = state.get("Resource", "")
    if resource.startswith(LAMBDA_INVOKE):
        parameters = state.get("Parameters", {})
        return parameters.get("FunctionName", parameters.get("FunctionName.$", ""))
    return resource if PLACEHOLDER.fullmatch(resource) else None


def retry_differences(machine: dict[str, Any]) -> dict[str, Any]:
    """path -> the retrier that differs from its one definition: a `lambda:invoke` task's first retrier
    (LAMBDA_RETRY), and any retrier naming Sandbox.Timedout (TIMEOUT_RETRY)."""
    differing: dict[str, Any] = {}
    for found in walk(machine):
        retriers = found.state.get("Retry", [])
        if found.state.get("Type") == "Task" and found.state.get("Resource", "").startswith(LAMBDA_INVOKE):
            first = retriers[0] if retriers else None
            if first != LAMBDA_RETRY:
                differing[found.path] = first
        for retrier in retriers:
            if "Sandbox.Timedout" in retrier["ErrorEquals"] and retrier != TIMEOUT_RETRY:
                differing[found.path] = retrier
    return differing


def catch_all_omissions(machine: dict[str, Any]) -> list[str]:
    """The states whose Catch ends in States.ALL without, just before it, a catcher of NOT_CAUGHT_BY_STATES_ALL
    writing where States.ALL writes (so the end state reads the error from the same place)."""
    omissions = []
    for found in walk(machine):
        catchers = found.state.get("Catch", [])
        if not catchers or "States.ALL" not in catchers[-1]["ErrorEquals"]:
            continue
        before = catchers[-2] if len(catchers) > 1 else {}
        if before.get("ErrorEquals") != NOT_CAUGHT_BY_STATES_ALL or before.get("ResultPath") != catchers[-1].get(
            "ResultPath"
        ):
            omissions.append(found.path)
    return omissions
