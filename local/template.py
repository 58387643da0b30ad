"""Read template.yaml (with CloudFormation's short-form tags) and resolve the intrinsics the stack uses.

The parsing is cfn-lint's, so the local stack reads exactly what CloudFormation and the linters read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"


def _plain(node: Any) -> Any:
    """cfn-lint's nodes carry line marks; plain dicts, lists and strings are easier to compare and copy."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    return _plain(cfn_yaml.load(str(path)))


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == resource_type}


def function_environment(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """A function's environment as SAM builds it: Globals first, then the function's own variables."""
    global_variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    own = template["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {})
    return {**global_variables, **own}


def function_property(template: dict[str, Any], logical_id: str, name: str, default: Any = None) -> Any:
    own = template["Resources"][logical_id]["Properties"]
    if name in own:
        return own[name]
    return template.get("Globals", {}).get("Function", {}).get(name, default)


def function_memory_size(template: dict[str, Any], logical_id: str, parameters: dict[str, str] | None = None) -> int:
    """A function's MemorySize in MB: a number, or a !Ref to a parameter (TrainMemorySize) given or defaulted."""
    value = function_property(template, logical_id, "MemorySize", 128)
    if isinstance(value, dict) and "Ref" in value:
        name = value["Ref"]
        value = (parameters or {}).get(name, template["Parameters"][name].get("Default"))
    return int(value)


class Resolver:
    """Resolves Ref / Fn::GetAtt / Fn::Sub against the physical names and ARNs of the local stack."""

    def __init__(
        self,
        template: dict[str, Any],
        refs: dict[str, str],
        attributes: dict[tuple[str, str], str],
        parameter_overrides: dict[str, str] | None = None,
    ):
        declared = template.get("Parameters", {})
        unknown = set(parameter_overrides or {}) - set(declared)
        if unknown:
            raise KeyError(f"the template declares no parameter(s) {', '.join(sorted(unknown))}")
        self.parameters = {name: str(p.get("Default", "")) for name, p in declared.items()}
        self.parameters.update(parameter_overrides or {})
        self.refs = refs
        self.attributes = attributes

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                try:
                    return self.attributes[(logical_id, attribute)]
                except KeyError:
                    raise KeyError(f"the local stack has no {logical_id}.{attribute}") from None
            if key == "Fn::Sub" and isinstance(argument, str):
                return self.sub(argument)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value

    def ref(self, name: str) -> str:
        if name in self.refs:
            return self.refs[name]
        if name in self.parameters:
            return self.parameters[name]
        raise KeyError(f"the local stack cannot resolve Ref {name}")

    def sub(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self.attributes[(logical_id, attribute)]
            return self.ref(name)

        return re.sub(r"\$\{([A-Za-z0-9_.:]+)\}", replace, text)
