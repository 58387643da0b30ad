"""The template's conditional parts (`Fn::If`, `AWS::NoValue`, `Ref` to a parameter) for given parameter values.

Enough of CloudFormation's evaluation for the contract tests to ask "what does this function get when the stack
is deployed with these parameters?"; every other intrinsic is left as it is.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

NO_VALUE = object()


def parameter_refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            yield node["Ref"]
        for value in node.values():
            yield from parameter_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from parameter_refs(value)


def parameter_defaults(template: dict[str, Any]) -> dict[str, str]:
    return {name: str(parameter.get("Default", "")) for name, parameter in template.get("Parameters", {}).items()}


def parameter_scenarios(template: dict[str, Any]) -> list[dict[str, str]]:
    """Every combination of the allowed values of the parameters that conditions test (one empty one if none)."""
    declared = template.get("Parameters", {})
    varied = sorted(
        {name for name in parameter_refs(template.get("Conditions", {})) if "AllowedValues" in declared.get(name, {})}
    )
    choices = itertools.product(*(declared[name]["AllowedValues"] for name in varied))
    return [{name: str(value) for name, value in zip(varied, values, strict=True)} for values in choices]


CONDITION_FUNCTIONS: dict[str, Callable[[list[Any]], bool]] = {
    "Fn::Equals": lambda values: values[0] == values[1],
    "Fn::Not": lambda values: not values[0],
    "Fn::And": all,
    "Fn::Or": any,
}


def evaluate(expression: Any, parameters: dict[str, str], conditions: dict[str, Any]) -> Any:
    """A condition's value (or an operand's, for Fn::Equals)."""
    if not (isinstance(expression, dict) and len(expression) == 1):
        return str(expression)
    ((function, argument),) = expression.items()
    if function == "Condition":
        return evaluate(conditions[argument], parameters, conditions)
    if function == "Ref":
        return parameters.get(argument, f"<{argument}>")
    return CONDITION_FUNCTIONS[function]([evaluate(operand, parameters, conditions) for operand in argument])


def resolve(node: Any, parameters: dict[str, str], conditions: dict[str, Any]) -> Any:
    """`Fn::If` takes its branch, `AWS::NoValue` disappears from lists, `Ref` to a parameter becomes its value."""
    if isinstance(node, list):
        items = [resolve(value, parameters, conditions) for value in node]
        return [item for item in items if item is not NO_VALUE]
    if isinstance(node, dict) and len(node) == 1:
        ((function, argument),) = node.items()
        if function == "Fn::If":
            condition, if_true, if_false = argument
            branch = if_true if evaluate(conditions[condition], parameters, conditions) else if_false
            return resolve(branch, parameters, conditions)
        if function == "Ref" and argument == "AWS::NoValue":
            return NO_VALUE
        if function == "Ref" and argument in parameters:
            return parameters[argument]
    if isinstance(node, dict):
        return {key: resolve(value, parameters, conditions) for key, value in node.items()}
    return node


def branches(node: Any) -> Iterator[Any]:
    """Every value a possibly conditional node can take, whatever the parameters (nothing for AWS::NoValue)."""
    if isinstance(node, dict) and set(node) == {"Fn::If"}:
        for branch in node["Fn::If"][1:]:
            yield from branches(branch)
    elif node != {"Ref": "AWS::NoValue"}:
        yield node
