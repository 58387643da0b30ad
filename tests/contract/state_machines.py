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
