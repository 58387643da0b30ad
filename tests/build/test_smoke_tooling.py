"""The pieces of tools/smoke_built.py that decide on their own: the dependency and overlap checks of the built
folders, and the execution environment (tools/lambda_worker.py) that runs a handler alone in a clean Python."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools import smoke_built
from tools.built_artifacts import BuiltFunction

WORKER = Path(smoke_built.__file__).with_name("lambda_worker.py")


def distribution(folder: Path, name: str, version: str, *requires: str) -> None:
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        *(f"Requires-Dist: {r}" for r in requires),
    ]
    (info / "METADATA").write_text("\n".join(lines) + "\n")


def function_with_layers(tmp_path: Path, *layers: str) -> BuiltFunction:
    code = tmp_path / "Function"
    code.mkdir()
    folders = []
    for layer in layers:
        (tmp_path / layer / "python").mkdir(parents=True)
        folders.append((layer, tmp_path / layer))
    return BuiltFunction("Function", code, "app.handler", tuple(folders), ())


def test_a_declared_dependency_no_folder_provides_is_reported(tmp_path: Path) -> None:
    function = function_with_layers(tmp_path, "OneLayer", "OtherLayer")
    runtime = tmp_path / "runtime"
    distribution(tmp_path / "OneLayer" / "python", "thing", "1.0", "helper>=2", "windows-only; sys_platform == 'win32'")
    distribution(tmp_path / "OtherLayer" / "python", "user", "1.0", "thing==1.0", "boto3", "missing-one")
    distribution(runtime, "boto3", "1.44.8")

    problems = smoke_built.missing_dependencies(function, runtime, "x86_64")

    assert problems == [
        "thing needs helper>=2: in none of the function's folders",
        "user needs missing-one: in none of the function's folders",
    ]


def test_a_dependency_of_the_wrong_version_is_reported(tmp_path: Path) -> None:
    function = function_with_layers(tmp_path, "OneLayer")
    distribution(tmp_path / "OneLayer" / "python", "thing", "1.0", "helper>=2")
    distribution(tmp_path / "OneLayer" / "python", "helper", "1.5")

    assert smoke_built.missing_dependencies(function, tmp_path / "runtime", "x86_64") == [
        "thing needs helper>=2, the function gets helper 1.5"
    ]


def test_the_same_file_in_two_layers_of_a_function_is_reported(tmp_path: Path) -> None:
    function = function_with_layers(tmp_path, "OneLayer", "OtherLayer")
    for layer in ("OneLayer", "OtherLayer"):
        (tmp_path / layer / "python" / "shared").mkdir()
        (tmp_path / layer / "python" / "shared" / "same.py").write_text("")
        (tmp_path / layer / "python" / "shared" / f"{layer}.py").write_text("")

    assert smoke_built.overlapping_layers(function) == [f"{Path('shared/same.py')} is in OneLayer and OtherLayer"]


@pytest.fixture
def worker(tmp_path: Path):
    """An execution environment for a handler module in a temporary task root, with no layers."""
    task = tmp_path / "task"
    task.mkdir()
    (task / "app.py").write_text(
        "import json, os, sys\n"
        "def handler(event, context):\n"
        "    print('hello from', context.function_name)\n"
        "    if event.get('fail'):\n"
        "        raise LookupError('asked to fail')\n"
        "    if event.get('import'):\n"
        "        __import__(event['import'])\n"
        "    return {'echo': event, 'trace': os.environ['_X_AMZN_TRACE_ID'], 'path': sys.path[0]}\n"
    )
    config = {
        "task_root": str(task),
        "layer_paths": [],
        "runtime_path": str(tmp_path / "runtime"),
        "handler": "app.handler",
    }
    environment = {
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
        "AWS_LAMBDA_LOG_STREAM_NAME": "s",
    }
    process = subprocess.Popen(
        [sys.executable, "-I", "-S", "-B", str(WORKER), json.dumps(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=task,
    )

    def invoke(event: dict) -> dict:
        request = {
            "event": event,
            "request_id": "r-1",
            "trace_id": "Root=1-a",
            "timeout_s": 10,
            "invoked_function_arn": "arn",
        }
        process.stdin.write(json.dumps(request) + "\n")
        process.stdin.flush()
        return json.loads(process.stdout.readline())

    init = json.loads(process.stdout.readline())
    yield init, invoke, task
    process.stdin.close()
    process.wait(timeout=10)


def test_the_worker_runs_the_handler_with_lambdas_context_and_collects_its_output(worker) -> None:
    init, invoke, task = worker

    outcome = invoke({"x": 1})

    assert init["error"] is None and init["foreign_modules"] == []
    assert outcome["result"] == {"echo": {"x": 1}, "trace": "Root=1-a", "path": str(task)}
    assert outcome["logs"] == "hello from fn\n"


def test_the_worker_reports_lambdas_error_shape_and_sees_no_site_packages(worker) -> None:
    _, invoke, _ = worker

    failed = invoke({"fail": True})
    isolated = invoke({"import": "pytest"})  # installed in the dev environment, invisible to the function

    assert failed["error"]["errorType"] == "LookupError"
    assert failed["error"]["errorMessage"] == "asked to fail"
    assert isolated["error"]["errorType"] == "ModuleNotFoundError"


def test_an_expected_error_is_tied_to_its_function_message_and_parameters() -> None:
    invocation = smoke_built.Invocation("PredictFunction", "ModuleNotFoundError", "No module named 'onnxruntime'", 0.1)

    assert "ParityCheckErrored" in smoke_built.expected(invocation, {"ServingRuntime": "sklearn"})
    assert smoke_built.expected(invocation, {"ServingRuntime": "onnx"}) is None
    assert (
        smoke_built.expected(
            smoke_built.Invocation("TrainFunction", "ModuleNotFoundError", "No module named 'onnxruntime'", 0.1),
            {"ServingRuntime": "sklearn"},
        )
        is None
    )
