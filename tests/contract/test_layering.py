"""The house rules, read from the import graph of the domain package and the handlers.

- the package is built in floors (``FLOORS``): a module imports only from its own floor or below, never up, and no
  import chain runs in a circle; the ground floor (``mlops.records``, the errors, the settings) imports no room;
- serving never imports scikit-learn or scipy (the predict function ships onnxruntime and numpy only);
- storage sits at the bottom: it imports nothing of mlops but itself and the errors;
- no module imports another module's private (``_underscore``) names; handlers use only public names;
- the packages' ``__init__.py`` files stay empty (importing a package costs nothing at cold start);
- every S3 prefix and DynamoDB key is spelled in ``mlops.storage.layout`` only.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers/core/python/mlops"
HEAVY = ("sklearn", "scipy")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(source: str) -> list[tuple[str, list[str]]]:
    """(module, imported names) of the imports that run when the module is imported (not inside functions)."""
    found: list[tuple[str, list[str]]] = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def all_imports(source: str) -> list[tuple[str, list[str]]]:
    """Every import, including those deferred inside functions."""
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def package_graph() -> dict[str, list[tuple[str, list[str]]]]:
    return {module_name(path): top_level_imports(path.read_text()) for path in sorted(PACKAGE.rglob("*.py"))}


def heavy_reach(graph: dict[str, list[tuple[str, list[str]]]], start: str) -> list[str]:
    """The import chain from ``start`` to scikit-learn or scipy at import time, or [] if there is none."""
    seen: set[str] = set()

    def walk(module: str, chain: list[str]) -> list[str]:
        if module in seen:
            return []
        seen.add(module)
        for imported, names in graph.get(module, []):
            targets = [imported] + [f"{imported}.{name}" for name in names]
            for target in targets:
                if target.split(".")[0] in HEAVY:
                    return [*chain, target]
                if target in graph:
                    found = walk(target, [*chain, target])
                    if found:
                        return found
        return []

    return walk(start, [start])


def private_imports(source: str) -> list[str]:
    return [
        f"{module}.{name}"
        for module, names in all_imports(source)
        if module.startswith("mlops")
        for name in names
        if name.startswith("_") and name != "__version__"
    ]


# The floors of the domain package, bottom first. A room imports downwards only: the records every room passes
# around are on the ground floor, the storage layout above them, then the rooms in the order their work depends on.
FLOORS: tuple[frozenset[str], ...] = (
    frozenset({"mlops", "mlops.errors", "mlops.settings", "mlops.records"}),
    frozenset({"mlops.storage"}),
    frozenset({"mlops.data"}),
    frozenset({"mlops.registry"}),
    frozenset({"mlops.monitoring"}),
    frozenset({"mlops.serving"}),
    frozenset({"mlops.governance"}),
    frozenset({"mlops.training"}),
    frozenset({"mlops.api", "mlops.views"}),
)


def floor_of(module: str) -> int | None:
    """The floor of a module: that of its room (``mlops.<room>``), or its own for a module at the package root."""
    parts = module.split(".")
    for room in (".".join(parts[:2]), parts[0]):
        for number, floor in enumerate(FLOORS):
            if room in floor:
                return number
    return None


def module_imports(path: Path) -> set[str]:
    """The mlops modules a file imports anywhere in it (deferred imports too), each as the module it names."""
    found: set[str] = set()
    for module, names in all_imports(path.read_text()):
        if not module.startswith("mlops"):
            continue
        for name in names or [""]:
            candidate = f"{module}.{name}" if name else module
            is_module = (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").exists()
            found.add(candidate if is_module else module)
    return found


def full_graph() -> dict[str, set[str]]:
    return {module_name(path): module_imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{module} (floor {floor_of(module)}) imports {target} (floor {floor_of(target)})"
        for module, targets in graph.items()
        for target in targets
        if (floor_of(target) or 0) > (floor_of(module) or 0)
    )


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every circle of module imports found by a depth-first walk (each reported from where it closes)."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def walk(module: str, path: list[str]) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target in graph and not state.get(target):
                walk(target, path)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if not state.get(module):
            walk(module, [])
    return cycles


def test_every_module_of_the_package_has_a_floor():
    assert [module for module in full_graph() if floor_of(module) is None] == []


def test_no_import_runs_up_the_floors():
    assert upward_imports(full_graph()) == []


def test_no_import_chain_runs_in_a_circle():
    assert import_cycles(full_graph()) == []


def test_the_ground_floor_imports_no_room():
    ground = {m: t for m, t in full_graph().items() if floor_of(m) == 0}
    assert {m: sorted(t) for m, t in ground.items() if any(floor_of(x) != 0 for x in t)} == {}


def test_the_floor_checks_can_fail():
    graph = full_graph()
    graph["mlops.records.fabricated"] = {"mlops.training.prepare"}
    graph["mlops.serving.fabricated"] = {"mlops.serving.other"}
    graph["mlops.serving.other"] = {"mlops.serving.fabricated"}
    assert upward_imports(graph) == ["mlops.records.fabricated (floor 0) imports mlops.training.prepare (floor 7)"]
    assert ["mlops.serving.fabricated", "mlops.serving.other", "mlops.serving.fabricated"] in import_cycles(graph)


SERVING_MODULES = sorted(m for m in package_graph() if m.startswith("mlops.serving"))


@pytest.mark.parametrize("module", SERVING_MODULES)
def test_serving_never_imports_scikit_learn_or_scipy(module):
    assert heavy_reach(package_graph(), module) == []


def test_the_predict_function_imports_neither_in_a_fresh_interpreter():
    # The static graph misses imports made by third-party code; a real import in a clean process does not.
    probe = (
        "import sys, functions.predict.app, mlops.serving.http, mlops.serving.cache, mlops.serving.runtime;"
        "import mlops.serving.validation;"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    env = {
        "PYTHONPATH": f"{ROOT}:{PACKAGE.parent}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
    }
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )
    assert output.returncode == 0, output.stderr
    assert output.stdout.strip() == "[]"


def test_the_layering_check_catches_a_serving_module_that_imports_scikit_learn():
    # The rule above can fail: a fabricated serving module importing a module that imports sklearn is caught.
    graph = package_graph()
    graph["mlops.serving.fabricated"] = top_level_imports("from mlops.training import estimators\n")
    assert heavy_reach(graph, "mlops.serving.fabricated")[-1].startswith("sklearn")
    graph["mlops.serving.fabricated"] = top_level_imports("import numpy as np\nfrom mlops.storage import layout\n")
    assert heavy_reach(graph, "mlops.serving.fabricated") == []


def test_storage_sits_at_the_bottom():
    for module, imports in package_graph().items():
        if module.startswith("mlops.storage"):
            upward = [
                m for m, _ in imports if m.startswith("mlops") and not m.startswith(("mlops.storage", "mlops.errors"))
            ]
            assert upward == [], f"{module} imports {upward}"


def test_no_module_imports_private_names_of_another():
    offenders = {
        str(path.relative_to(ROOT)): private_imports(path.read_text())
        for directory in (PACKAGE, ROOT / "functions")
        for path in directory.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_private_name_check_can_fail():
    assert private_imports("from mlops.monitoring.store import _epoch, MonitoringStore\n") == [
        "mlops.monitoring.store._epoch"
    ]


def test_package_init_files_are_empty():
    for init in PACKAGE.rglob("__init__.py"):
        if init.parent == PACKAGE:
            continue  # the root carries the package version only
        assert init.read_text().strip() == "", init


# ---- every S3 key and DynamoDB key through mlops.storage.layout ---------------------------------------------------
# What a key looks like: a layout prefix, a sort key prefix, an artifact suffix, or one of the run's and the monitor's
# file names. Matched in the code's string constants and the literal parts of f-strings and .format templates (the
# AST, so comments and docstrings, which describe the layout, are not code).
KEY_SEGMENT = re.compile(
    # a key's first segment, at the start of a string (or of an f-string's literal part), or after an s3://bucket/;
    # not an HTTP route's ``/models/<name>``
    r"(?:^/?|s3://[^/{}]*/)(?:models|baselines|runs|capture|feedback|monitoring|predictions|shadow|datasets|dashboards)"
    r"/(?!<)"
    r"|\b(?:MODEL|VERSION|ALIAS|RUN|EVENT|CHECK)#"
    r"|(?:^|\w)\.(?:npz|onnx|joblib)\b(?!\.)"  # an artifact suffix (not onnx's ``ai.onnx.ml`` domain)
    r"|\b(?:baseline|prediction_baseline|report|onnx_reference|plan|summary|card|schema|leaderboard|input_example)"
    r"\.(?:json|html|md)\b"
)
# The ground floor cannot ask layout (it imports no room): the governance settings' allowed dataset location is the
# one key prefix spelled there.
GROUND_FLOOR_KEYS = {"layers/core/python/mlops/settings.py": ["'/datasets/'"]}
LAYOUT = PACKAGE / "storage/layout.py"
STATE_MACHINES = ROOT / "statemachines"


def docstring_nodes(tree: ast.AST) -> set[int]:
    """The ids of the module's, classes' and functions' docstring constants."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                found.add(id(first.value))
    return found


def key_literals(source: str) -> list[str]:
    """Every string constant of the code (f-strings' literal parts and .format templates included: they are
    constants in the AST) that spells a storage key, as ``line: text``."""
    tree = ast.parse(source)
    docstrings = docstring_nodes(tree)
    found = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and KEY_SEGMENT.search(node.value)
    ]
    return [f"{node.lineno}: {node.value!r}" for node in sorted(found, key=lambda node: (node.lineno, node.col_offset))]


def test_storage_keys_are_spelled_in_layout_only():
    offenders = {
        str(path.relative_to(ROOT)): key_literals(path.read_text())
        for directory in (PACKAGE, ROOT / "functions")
        for path in sorted(directory.rglob("*.py"))
        if path != LAYOUT
    }
    spelled = {path: found for path, found in offenders.items() if found}
    assert {path: [f.split(": ", 1)[1] for f in found] for path, found in spelled.items()} == GROUND_FLOOR_KEYS


def test_the_storage_key_check_can_fail():
    planted = (
        '"""Docstrings describe the layout: ``runs/<run>/baseline.json``."""\n'
        "def keys(prefix, name, run, pk):\n"
        '    """So do functions\' docstrings: models/<name>/."""\n'
        '    split = f"{prefix}/data/{name}.npz"\n'
        '    report = f"{prefix}/report.json"\n'
        '    run_key = "runs/{}/training-jobs".format(run)\n'
        '    item = "VERSION#" + pk  # a comment may name VERSION# and runs/\n'
        '    route, domain = "/models/<name>/versions", "ai.onnx.ml"  # neither is a key\n'
        '    return split, report, run_key, item, route, domain, "models are trained"\n'
    )
    assert key_literals(planted) == [
        "4: '.npz'",
        "5: '/report.json'",
        "6: 'runs/{}/training-jobs'",
        "7: 'VERSION#'",
    ]


# The S3 keys the state machines build themselves (States.Format, or a literal Key / Prefix) must be templates that
# layout declares and builds its own keys with, so the two cannot drift apart.
FORMAT_CALL = re.compile(r"States\.Format\('((?:[^'\\]|\\.)*)'")
BUCKET_PREFIX = re.compile(r"^s3://[^/]+/")


def asl_key_templates(definition: object) -> list[str]:
    """The S3 key templates of a state machine definition: each States.Format template that is an S3 URI or spells a
    key, and each literal ``Key`` / ``Prefix`` (bucket prefix removed, ``{}`` where the ASL substitutes)."""
    found: list[str] = []

    def visit(node: object, field: str = "") -> None:
        if isinstance(node, dict):
            for name, value in node.items():
                visit(value, name)
        elif isinstance(node, list):
            for value in node:
                visit(value, field)
        elif isinstance(node, str):
            templates = FORMAT_CALL.findall(node)
            if field in ("Key", "Prefix"):
                templates.append(node)
            for template in templates:
                if template.startswith("s3://") or KEY_SEGMENT.search(template) or field in ("Key", "Prefix"):
                    found.append(BUCKET_PREFIX.sub("", template))

    visit(definition)
    return found


def declared_templates() -> dict[str, str]:
    """layout's module-level key templates (string constants with ``{}``) that its own functions build keys with."""
    tree = ast.parse(LAYOUT.read_text())
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name) and "{}" in node.value.value
    }
    used = {
        name.id
        for function in tree.body
        if isinstance(function, ast.FunctionDef)
        for name in ast.walk(function)
        if isinstance(name, ast.Name) and name.id in constants
    }
    return {value: name for name, value in constants.items() if name in used}


def undeclared_asl_keys(definitions: dict[str, object], declared: dict[str, str]) -> list[str]:
    return sorted(
        f"{name}: {template}"
        for name, definition in definitions.items()
        for template in asl_key_templates(definition)
        if template not in declared
    )


def state_machine_definitions() -> dict[str, object]:
    import json  # noqa: PLC0415

    return {path.name: json.loads(path.read_text()) for path in sorted(STATE_MACHINES.glob("*.asl.json"))}


def test_the_state_machines_build_only_the_s3_keys_layout_declares():
    definitions = state_machine_definitions()
    assert undeclared_asl_keys(definitions, declared_templates()) == []
    # and the check reads what is there: the training jobs' output path is one such key
    assert "runs/{}/training-jobs" in [t for d in definitions.values() for t in asl_key_templates(d)]


def test_the_declared_template_is_the_key_layout_builds():
    from mlops.storage import layout  # noqa: PLC0415

    assert declared_templates() == {layout.TRAINING_JOB_OUTPUT: "TRAINING_JOB_OUTPUT"}
    assert str(layout.training_job_output("bucket", "run-1")) == "s3://bucket/runs/run-1/training-jobs"


def test_the_state_machine_key_check_can_fail():
    planted = {
        "planted.asl.json": {
            "States": {
                "Job": {
                    "Parameters": {
                        "OutputDataConfig": {
                            "S3OutputPath.$": "States.Format('s3://${ArtifactsBucketName}/runs/{}/jobs', $.run)"
                        },
                        "Name.$": "States.Format('mlops-train-{}', States.UUID())",
                        "ItemReader": {"Parameters": {"Bucket": "b", "Key": "predictions/plan.json"}},
                        "Cause.$": "States.Format('{}: {}', $.error.Error, $.error.Cause)",
                    }
                }
            }
        }
    }
    assert undeclared_asl_keys(planted, declared_templates()) == [
        "planted.asl.json: predictions/plan.json",
        "planted.asl.json: runs/{}/jobs",
    ]
    assert (
        undeclared_asl_keys(planted, {**declared_templates(), "runs/{}/jobs": "X", "predictions/plan.json": "Y"}) == []
    )


# ---- no module of the domain package over 450 lines ---------------------------------------------------------------
MAX_MODULE_LINES = 450


def modules_over(package: Path, limit: int) -> dict[str, int]:
    return {
        str(path.relative_to(package)): lines
        for path in sorted(package.rglob("*.py"))
        if (lines := len(path.read_text().splitlines())) > limit
    }


def test_no_module_of_the_domain_package_is_over_450_lines():
    assert modules_over(PACKAGE, MAX_MODULE_LINES) == {}


def test_the_module_length_check_can_fail(tmp_path):
    (tmp_path / "room").mkdir()
    (tmp_path / "room/short.py").write_text("x = 1\n" * MAX_MODULE_LINES)
    (tmp_path / "room/long.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    assert modules_over(tmp_path, MAX_MODULE_LINES) == {"room/long.py": MAX_MODULE_LINES + 1}
