"""docs/architecture.md's tables of functions and rooms agree with template.yaml and the tree, so they cannot drift.

- "Functions": every `AWS::Serverless::Function` of the template is named in the table, nothing else is, and the
  sentence above it counts them; every `functions/<name>/app.py` is one of their `CodeUri`s (or the training image's
  entry point);
- "The domain package": every room of `layers/core/python/mlops` has a row naming exactly its modules, and every
  module at the package's root has a row of its own.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs/architecture.md"
PACKAGE = ROOT / "layers/core/python/mlops"
NUMBERS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
]
NOT_LAMBDA = {"training_job"}  # the SageMaker training image's entry point (training/Dockerfile), not a function


def section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| `")]


def documented_functions(text: str) -> set[str]:
    names: set[str] = set()
    for row in table_rows(section(text, "Functions")):
        first_cell = row.split("|")[1]
        names |= set(re.findall(r"`(\w+Function)`", first_cell))
    return names


def documented_rooms(text: str) -> dict[str, set[str]]:
    """`mlops/<room>/` → the module names its row mentions (``name.py``), `mlops/<module>.py` → {}."""
    rooms: dict[str, set[str]] = {}
    for row in table_rows(section(text, "The domain package")):
        cells = row.split("|")
        place = cells[1].strip().strip("`")
        rooms[place] = set(re.findall(r"`([a-z_]+\.py)`", "|".join(cells[2:])))
    return rooms


def actual_rooms() -> dict[str, set[str]]:
    rooms: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.iterdir()):
        if path.is_dir() and (path / "__init__.py").exists():
            rooms[f"mlops/{path.name}/"] = {p.name for p in path.glob("*.py") if p.name != "__init__.py"}
        elif path.suffix == ".py" and path.name != "__init__.py":
            rooms[f"mlops/{path.name}"] = set()
    return rooms


def template_functions() -> dict[str, str]:
    resources = load_template()["Resources"]
    return {
        name: str(resource["Properties"]["CodeUri"]).strip("/")
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def test_the_functions_table_names_every_function_of_the_template_and_no_other():
    assert documented_functions(DOC.read_text()) == set(template_functions())


def test_the_functions_table_counts_them():
    count = len(template_functions())
    assert f"{NUMBERS[count].capitalize()} functions, each `functions/<name>/app.py`" in DOC.read_text()


def test_every_handler_folder_is_a_function_of_the_template():
    folders = {path.parent.name for path in (ROOT / "functions").glob("*/app.py")}
    code_uris = {uri.removeprefix("functions/") for uri in template_functions().values()}
    assert folders - NOT_LAMBDA == code_uris


def test_the_domain_package_table_names_every_room_and_module():
    assert documented_rooms(DOC.read_text()) == actual_rooms()


@pytest.mark.parametrize(
    ("doc", "differs"),
    [
        ("| `mlops/records/` | `events.py`: x |", "a room's module left out"),
        ("| `mlops/nowhere/` | `a.py` |", "a room that does not exist"),
    ],
)
def test_the_room_check_can_fail(doc, differs):
    text = f"\n## The domain package\n\n| module | its job |\n|---|---|\n{doc}\n"
    assert documented_rooms(text) != actual_rooms(), differs
