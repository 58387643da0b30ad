"""What `sam build` produced, as Lambda will see it: each function's folder and the folders of the layers it gets
for a set of parameter values (a layer chosen by a condition, such as the predict function's serving layer, follows
the parameters). Read from the built template (.aws-sam/build/template.yaml), whose CodeUri and ContentUri name the
built folders. Shared by tools/size_check.py and tools/smoke_built.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.template import ROOT, load_template, resources_of_type

BUILD_DIR = ROOT / ".aws-sam" / "build"
MIB = 2**20


@dataclass(frozen=True)
class BuiltFunction:
    logical_id: str
    code_dir: Path
    handler: str
    layers: tuple[tuple[str, Path], ...]  # (logical id, built folder), in the template's order
    parameters: tuple[tuple[str, str], ...]  # the parameter values that chose these layers (empty if none did)

    @property
    def layer_paths(self) -> list[Path]:
        """The folders Lambda puts on sys.path: a layer's python/ folder is extracted under /opt/python."""
        return [folder / "python" for _, folder in self.layers]

    @property
    def variant(self) -> str:
        return ", ".join(f"{name}={value}" for name, value in self.parameters)


def load_built_template(build_dir: Path = BUILD_DIR) -> dict[str, Any]:
    path = build_dir / "template.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run `make build` first")
    return load_template(path)


def _evaluate(expression: Any, parameters: dict[str, str], conditions: dict[str, Any]) -> Any:
    if not (isinstance(expression, dict) and len(expression) == 1):
        return str(expression)
    ((function, argument),) = expression.items()
    if function == "Condition":
        return _evaluate(conditions[argument], parameters, conditions)
    if function == "Ref":
        return parameters[argument]
    values = [_evaluate(operand, parameters, conditions) for operand in argument]
    return {
        "Fn::Equals": lambda: values[0] == values[1],
        "Fn::Not": lambda: not values[0],
        "Fn::And": lambda: all(values),
        "Fn::Or": lambda: any(values),
    }[function]()


def _resolve_layers(layers: list[Any], parameters: dict[str, str], conditions: dict[str, Any]) -> list[str]:
    """`!Ref X` and `!If [Condition, !Ref A, !Ref B]` entries -> logical ids (AWS::NoValue dropped)."""
    resolved = []
    for entry in layers:
        layer = entry
        while isinstance(layer, dict) and "Fn::If" in layer:
            condition, if_true, if_false = layer["Fn::If"]
            layer = if_true if _evaluate(conditions[condition], parameters, conditions) else if_false
        if layer != {"Ref": "AWS::NoValue"}:
            resolved.append(layer["Ref"])
    return resolved


def _condition_parameters(node: Any, conditions: dict[str, Any]) -> Iterator[str]:
    """The parameters the conditions used in a node test."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::If":
                yield from _condition_parameters(conditions[value[0]], conditions)
                yield from _condition_parameters(value[1:], conditions)
            elif key == "Condition" and isinstance(value, str):
                yield from _condition_parameters(conditions[value], conditions)
            elif key == "Ref" and isinstance(value, str):
                yield value
            else:
                yield from _condition_parameters(value, conditions)
    elif isinstance(node, list):
        for value in node:
            yield from _condition_parameters(value, conditions)


def built_functions(
    template: dict[str, Any] | None = None, build_dir: Path = BUILD_DIR, overrides: dict[str, str] | None = None
) -> list[BuiltFunction]:
    """Every function with every set of layers the parameters can give it (one entry per distinct set), for the
    template's defaults updated with `overrides`."""
    template = template if template is not None else load_built_template(build_dir)
    declared = template.get("Parameters", {})
    defaults = {name: str(parameter.get("Default", "")) for name, parameter in declared.items()} | (overrides or {})
    conditions = template.get("Conditions", {})
    global_function = template.get("Globals", {}).get("Function", {})
    layer_folders = {
        logical_id: build_dir / resource["Properties"]["ContentUri"]
        for logical_id, resource in resources_of_type(template, "AWS::Serverless::LayerVersion").items()
    }
    found = []
    for logical_id, resource in sorted(resources_of_type(template, "AWS::Serverless::Function").items()):
        properties = resource["Properties"]
        layers = [*global_function.get("Layers", []), *properties.get("Layers", [])]
        varied = sorted(
            {
                name
                for name in _condition_parameters(layers, conditions)
                if name in declared and "AllowedValues" in declared[name] and name not in (overrides or {})
            }
        )
        seen: set[tuple[str, ...]] = set()
        for values in itertools.product(*(declared[name]["AllowedValues"] for name in varied)):
            chosen = dict(zip(varied, map(str, values), strict=True))
            layer_ids = tuple(_resolve_layers(layers, defaults | chosen, conditions))
            if layer_ids in seen:
                continue
            seen.add(layer_ids)
            found.append(
                BuiltFunction(
                    logical_id,
                    build_dir / properties["CodeUri"],
                    properties.get("Handler", global_function.get("Handler", "")),
                    tuple((layer, layer_folders[layer]) for layer in layer_ids),
                    tuple(chosen.items()),
                )
            )
    return found


def unzipped_size(folder: Path) -> int:
    """Bytes Lambda counts for a folder deployed as a zip: the sum of its files' sizes."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
