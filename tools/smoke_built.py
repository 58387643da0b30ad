"""Smoke test of what `sam build` produced: each function runs alone with its built layers, in a clean Python 3.13,
on the embedded local AWS, training a model and then serving it.

    python -m tools.smoke_built [--build-dir .aws-sam/build] [--architecture x86_64]

Unit and integration tests import the handlers from the repository in the dev virtual environment, where every
package is installed; they cannot see what a trim removed or a layer forgot. Here each function gets an execution
environment of its own (tools/lambda_worker.py): an interpreter started with -I -S -B whose sys.path is the
function's built folder, its built layers' python/ folders and the boto3 the Lambda runtime provides
(requirements-lambda-runtime.txt, installed with pip --target into .aws-sam/lambda-runtime). The local stack
(local/stack.py: moto, the template's resources, the real state machine) runs in this process; moto's threaded
server shares its state over HTTP with the functions (AWS_ENDPOINT_URL), and each Lambda invocation is sent to the
function's execution environment instead of running in-process.

Before running anything it checks, per function, that every dependency its built distributions declare is there
(or left out on purpose, as tools/build_layer.py says why) and that no two of its layers ship the same file
(Lambda extracts them into one /opt, the later overwriting the earlier). Then, for each set of layers the
template's parameters can give a function (ServingRuntime=onnx and =sklearn for the predict function):
- every function's handler is imported (Lambda's init); none may fail or load a module from outside its folders;
- the TrainingPipeline runs on the breast-cancer data set as execution `example` (the one events/ were captured
  from) and must end Deployed;
- every events/<function>/*.json is sent to its function; API responses must not be 5xx;
- no invocation may fail with anything but the package's own domain errors (mlops.errors), which mean the code
  ran and decided; Powertools' tracer runs enabled, sending its segments to a local UDP socket.
Exit status 0 only when all of it holds.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import importlib
import itertools
import json
import logging
import os
import pkgutil
import platform
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import PathDistribution, distributions
from pathlib import Path
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.server import ThreadedMotoServer
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from local.runs.datasets import breast_cancer_csv
from local.runs.event_files import EXAMPLE_EXECUTION, EXAMPLE_REQUEST
from local.runs.training import run_training
from local.stack import LocalStack
from local.template import ROOT, load_template
from mlops import errors
from mlops.errors import MlopsError
from tools import build_layer
from tools.built_artifacts import BUILD_DIR, BuiltFunction, built_functions

WORKER = ROOT / "tools" / "lambda_worker.py"
RUNTIME_REQUIREMENTS = ROOT / "requirements-lambda-runtime.txt"
RUNTIME_DIR = ROOT / ".aws-sam" / "lambda-runtime"
EVENTS_DIR = ROOT / "events"
LOGS_DIR = ROOT / ".aws-sam" / "smoke-logs"  # each execution environment's stderr
STEP_ORDER = [
    "prepare", "train", "evaluate", "convert", "register", "approval", "deploy", "predict", "predict_sklearn", "api",
]  # fmt: skip
INVOCATION_TIMEOUT_S = 300.0
INIT_TIMEOUT_S = 120.0
# Errors that are the designed outcome, not a defect: (function, errorType, text in the message, parameters) -> why
EXPECTED_ERRORS = {
    ("PredictFunction", "ModuleNotFoundError", "onnxruntime", ("ServingRuntime", "sklearn")): (
        "with ServingRuntime=sklearn the predict function ships no onnxruntime: the pipeline's ParityCheck fails "
        "and the state machine records it (ParityCheckErrored) before Register, by design"
    ),
}


def domain_errors() -> frozenset[str]:
    """The names of the package's own exceptions (every mlops module imported, so every subclass is seen)."""
    for module in pkgutil.iter_modules([str(Path(errors.__file__).parent)]):
        importlib.import_module(f"mlops.{module.name}")
    found, pending = set(), [MlopsError]
    while pending:
        error = pending.pop()
        found.add(error.__name__)
        pending += error.__subclasses__()
    return frozenset(found)


# ---- the Lambda runtime's packages ---------------------------------------------------------------------------------


def lambda_runtime() -> Path:
    """boto3 and its dependencies as the Lambda runtime provides them, installed once per requirements file."""
    marker = RUNTIME_DIR / ".requirements-sha256"
    digest = hashlib.sha256(RUNTIME_REQUIREMENTS.read_bytes()).hexdigest()
    if not (marker.is_file() and marker.read_text() == digest):
        print(f"installing {RUNTIME_REQUIREMENTS.name} into {RUNTIME_DIR.relative_to(ROOT)}", flush=True)
        shutil.rmtree(RUNTIME_DIR, ignore_errors=True)
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps"]
        command += ["--target", str(RUNTIME_DIR), "--requirement", str(RUNTIME_REQUIREMENTS)]  # compiled, as there
        subprocess.run(command, check=True)
        marker.write_text(digest)
    return RUNTIME_DIR


def clean_python() -> str:
    """The Python 3.13 the execution environments run (tools/find_python.sh: $PYTHON, python3.13, pyenv, ...)."""
    result = subprocess.run([str(ROOT / "tools" / "find_python.sh")], capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(result.stderr.strip())
    return result.stdout.strip()


# ---- static checks of the built folders --------------------------------------------------------------------------


def missing_dependencies(function: BuiltFunction, runtime: Path, architecture: str) -> list[str]:
    """Declared dependencies (Requires-Dist, markers evaluated for Lambda's python3.13 on Linux) of every
    distribution in the function's folders that nothing there provides, except those a layer omits on purpose."""
    paths = [str(function.code_dir), *map(str, function.layer_paths), str(runtime)]
    installed: dict[str, PathDistribution] = {}
    for distribution in distributions(path=paths):
        installed.setdefault(canonicalize_name(distribution.metadata["Name"]), distribution)
    environment = default_environment() | {
        "python_version": build_layer.RUNTIME_VERSION,
        "python_full_version": f"{build_layer.RUNTIME_VERSION}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": build_layer.ARCHITECTURES[architecture],
        "extra": "",
    }
    omitted = {
        canonicalize_name(name): reason
        for layer_id, _ in function.layers
        if layer_id in build_layer.LAYERS
        for name, reason in build_layer.LAYERS[layer_id].omitted.items()
    }
    problems = []
    for name, distribution in sorted(installed.items()):
        for text in distribution.requires or []:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                continue
            needed = canonicalize_name(requirement.name)
            if needed in installed:
                version = installed[needed].version
                if not requirement.specifier.contains(version, prereleases=True):
                    problems.append(f"{name} needs {requirement}, the function gets {needed} {version}")
            elif needed not in omitted:
                problems.append(f"{name} needs {requirement}: in none of the function's folders")
    return problems


def overlapping_layers(function: BuiltFunction) -> list[str]:
    """Files two of a function's layers both ship: Lambda extracts the layers into one /opt in order, so the later
    one's copy silently replaces the earlier one's."""
    owners: dict[Path, str] = {}
    overlaps = []
    for (layer_id, _), root in zip(function.layers, function.layer_paths, strict=True):
        for path in sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file()):
            if path in owners:
                overlaps.append(f"{path} is in {owners[path]} and {layer_id}")
            owners[path] = layer_id
    return overlaps


# ---- execution environments ---------------------------------------------------------------------------------------


@dataclass
class Invocation:
    function: str
    error_type: str | None
    error_message: str
    duration_s: float
    source: str = ""


class ExecutionEnvironment:
    """One function's worker process: init at start, then one invocation at a time."""

    def __init__(self, python: str, function: BuiltFunction, runtime: Path, environment: dict[str, str]):
        self.function = function
        self.lock = threading.Lock()
        config = {
            "task_root": str(function.code_dir),
            "layer_paths": [str(path) for path in function.layer_paths],
            "runtime_path": str(runtime),
            "handler": function.handler,
        }
        self.stderr = LOGS_DIR / f"{function.logical_id}.stderr.log"
        self.stderr.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [python, "-I", "-S", "-B", str(WORKER), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr.open("w"),
            cwd=function.code_dir,
            env=environment,
            text=True,
            encoding="utf-8",
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.init: dict[str, Any] | None = None
        self.dead = False

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put("")  # end of output: the process exited

    def _next(self, timeout_s: float) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout_s)
        except queue.Empty:
            raise TimeoutError(f"{self.function.logical_id} did not answer within {timeout_s:.0f} s") from None
        if not line:
            tail = self.stderr.read_text()[-2000:]
            raise RuntimeError(f"{self.function.logical_id}'s interpreter exited:\n{tail}")
        return json.loads(line)

    def wait_for_init(self) -> dict[str, Any]:
        """The init report; an interpreter that dies or hangs while importing (a trimmed shared object can make it
        crash) is reported as an init error, not raised."""
        if self.init is None:
            try:
                self.init = self._next(INIT_TIMEOUT_S)
            except (TimeoutError, RuntimeError) as exc:
                error = {"errorType": "Runtime.InitError", "errorMessage": str(exc), "stackTrace": []}
                self.init = {"init_s": INIT_TIMEOUT_S, "error": error, "logs": "", "foreign_modules": []}
        return self.init

    def invoke(self, function: LambdaFunction, event: Any) -> tuple[dict[str, Any], str]:
        request = {
            "event": json.loads(event or "{}") if isinstance(event, str | bytes) else event,
            "request_id": str(uuid.uuid4()),
            "trace_id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};"
            "Sampled=1",
            "timeout_s": min(float(function.timeout), INVOCATION_TIMEOUT_S),
            "invoked_function_arn": function.function_arn,
        }
        with self.lock:
            init = self.wait_for_init()
            if init["error"] and init["error"]["errorType"] == "Runtime.InitError":  # the interpreter is gone
                return {"error": init["error"], "duration_s": 0.0, "logs": "", "foreign_modules": []}, ""
            assert self.process.stdin is not None
            try:
                self.process.stdin.write(json.dumps(request) + "\n")
                self.process.stdin.flush()
                return self._next(request["timeout_s"] + 30), request["request_id"]
            except (OSError, TimeoutError, RuntimeError) as exc:  # as Lambda does, the environment is discarded
                self.dead = True
                self.process.kill()
                error_type = "Sandbox.Timedout" if isinstance(exc, TimeoutError) else "Runtime.ExitError"
                error = {"errorType": error_type, "errorMessage": str(exc), "stackTrace": []}
                return {"error": error, "duration_s": 0.0, "logs": "", "foreign_modules": []}, request["request_id"]

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            if self.process.stdin:
                self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Dispatcher:
    """Sends moto's Lambda invocations to the functions' execution environments (instead of Docker or in-process),
    starting an environment at its function's first invocation if it is not running yet; records every outcome and
    delivers the logs to CloudWatch Logs as moto's Docker path does."""

    starters: dict[str, Callable[[], ExecutionEnvironment]]  # function name -> how to start its environment
    environments: dict[str, ExecutionEnvironment]  # function name -> its running environment
    logical_ids: dict[str, str]  # function name -> logical id
    invocations: list[Invocation] = field(default_factory=list)
    source: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def environment(self, name: str) -> ExecutionEnvironment:
        with self.lock:
            if name not in self.environments or self.environments[name].dead:
                self.environments[name] = self.starters[name]()
            return self.environments[name]

    def __call__(self, function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        outcome, _ = self.environment(function.function_name).invoke(function, event)
        error = outcome.get("error")
        body = json.dumps(error if error else outcome.get("result"))
        invocation = Invocation(
            self.logical_ids[function.function_name],
            error["errorType"] if error else None,
            error["errorMessage"] if error else "",
            outcome["duration_s"],
            self.source,
        )
        if outcome["foreign_modules"]:
            invocation.error_type = "ForeignModules"
            invocation.error_message = ", ".join(outcome["foreign_modules"][:5])
        self.invocations.append(invocation)
        function.logs_backend.ensure_log_group(function.logs_group_name)
        function.save_logs(outcome["logs"] + body)
        return body, bool(error), outcome["logs"]

    def stop(self) -> None:
        for environment in self.environments.values():
            environment.stop()


@contextlib.contextmanager
def dispatching(dispatcher: Dispatcher) -> Iterator[None]:
    original = LambdaFunction._invoke_lambda

    def invoke(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        if self.function_name in dispatcher.starters:
            return dispatcher(self, event)
        return original(self, event)

    LambdaFunction._invoke_lambda = invoke
    try:
        yield
    finally:
        LambdaFunction._invoke_lambda = original


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's threaded server in this process: the functions' boto3 reaches the stack's state through it."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


class TraceCollector:
    """A UDP socket standing in for the X-Ray daemon: counts the segments the functions' tracers send."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"
        self.segments = 0
        self.running = True
        self.thread = threading.Thread(target=self._receive, daemon=True)
        self.thread.start()

    def _receive(self) -> None:
        while self.running:
            with contextlib.suppress(TimeoutError):
                self.socket.recv(65536)
                self.segments += 1

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.socket.close()


# ---- a scenario: one set of parameters ----------------------------------------------------------------------------


def lambda_environment(
    function: BuiltFunction, variables: dict[str, str], runtime: Path, endpoint: str, daemon: str
) -> dict[str, str]:
    """What the Lambda runtime sets for a function (fake credentials; AWS calls go to the local endpoint)."""
    name = variables["AWS_LAMBDA_FUNCTION_NAME"]
    environment = {key: value for key, value in variables.items() if key != "POWERTOOLS_TRACE_DISABLED"}
    environment |= {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(function.code_dir),
        "LAMBDA_RUNTIME_DIR": str(runtime),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"smoke/{uuid.uuid4().hex}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_XRAY_DAEMON_ADDRESS": daemon,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }
    # OpenBLAS tuning set on this machine (OPENBLAS_CORETYPE, ...) applies to the layers' OpenBLAS as well
    return environment | {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_") or k == "LD_LIBRARY_PATH"}


@dataclass
class ScenarioReport:
    parameters: dict[str, str]
    inits: dict[str, dict[str, Any]] = field(default_factory=dict)
    invocations: list[Invocation] = field(default_factory=list)
    api_statuses: dict[str, int] = field(default_factory=dict)
    pipeline: str = ""
    segments: int = 0
    failures: list[str] = field(default_factory=list)
    duration_s: float = 0.0


def event_files(source_code_uris: dict[str, str], replayed: set[str]) -> Iterator[tuple[str, Path]]:
    """(logical id, event file) for the functions to replay, in pipeline order then by name."""
    folders = {Path(code_uri).name: logical_id for logical_id, code_uri in source_code_uris.items()}
    order = {name: index for index, name in enumerate(STEP_ORDER)}
    for folder in sorted(folders, key=lambda name: (order.get(name, len(order)), name)):
        if folders[folder] in replayed:
            yield from ((folders[folder], path) for path in sorted((EVENTS_DIR / folder).glob("*.json")))


@dataclass(frozen=True)
class Setup:
    python: str  # the clean Python 3.13 of the execution environments
    runtime: Path  # the Lambda runtime's packages
    domain_errors: frozenset[str]


def run_scenario(
    setup: Setup, functions: list[BuiltFunction], parameters: dict[str, str], replay: set[str]
) -> ScenarioReport:
    report = ScenarioReport(parameters)
    started = time.perf_counter()
    collector = TraceCollector()
    with LocalStack(parameters=parameters) as stack, moto_server() as endpoint:
        source_code_uris = {
            logical_id: resource["Properties"]["CodeUri"]
            for logical_id, resource in stack.template["Resources"].items()
            if resource["Type"] == "AWS::Serverless::Function"
        }
        lambda_client = stack.client("lambda")
        starters: dict[str, Callable[[], ExecutionEnvironment]] = {}
        for function in functions:
            name = stack.function_names[function.logical_id]
            configuration = lambda_client.get_function_configuration(FunctionName=name)
            variables = configuration["Environment"]["Variables"] | {
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(configuration["MemorySize"]),
                "_HANDLER": function.handler,
            }
            environment = lambda_environment(function, variables, setup.runtime, endpoint, collector.address)
            starters[name] = functools.partial(ExecutionEnvironment, setup.python, function, setup.runtime, environment)
        # the functions whose layers this scenario tests first start at once (their init is checked even if nothing
        # invokes them); the others start when first invoked
        eager = {name: start for name, start in starters.items() if stack_logical_id(stack, name) in replay}
        dispatcher = Dispatcher(starters, start_environments(eager), {v: k for k, v in stack.function_names.items()})
        try:
            with dispatching(dispatcher):
                run_pipeline_and_events(stack, dispatcher, report, event_files(source_code_uris, replay))
        finally:
            dispatcher.stop()
        for name, execution_environment in sorted(dispatcher.environments.items()):
            init = report.inits[dispatcher.logical_ids[name]] = execution_environment.wait_for_init()
            if init["error"] or init["foreign_modules"]:
                detail = init["error"] or {"errorMessage": f"foreign modules {init['foreign_modules'][:3]}"}
                report.failures.append(f"{dispatcher.logical_ids[name]} init: {detail['errorMessage']}")
    collector.close()
    report.segments = collector.segments
    report.invocations = dispatcher.invocations
    for invocation in report.invocations:
        if invocation.error_type not in {None, *setup.domain_errors} and not expected(invocation, parameters):
            report.failures.append(
                f"{invocation.function} ({invocation.source}): {invocation.error_type}: {invocation.error_message}"
            )
    report.duration_s = time.perf_counter() - started
    return report


def stack_logical_id(stack: LocalStack, function_name: str) -> str:
    return next(logical_id for logical_id, name in stack.function_names.items() if name == function_name)


def start_environments(starters: dict[str, Callable[[], ExecutionEnvironment]]) -> dict[str, ExecutionEnvironment]:
    """Start the execution environments as many at a time as there are cores, so that each init (Lambda's cold
    start: importing the handler) is timed running alone on a core."""
    started: dict[str, ExecutionEnvironment] = {}
    initialising: list[str] = []
    for name, start in starters.items():
        while len(initialising) >= (os.cpu_count() or 2):
            started[initialising.pop(0)].wait_for_init()
        started[name] = start()
        initialising.append(name)
    return started


def expected(invocation: Invocation, parameters: dict[str, str]) -> str | None:
    """Why an error is the designed outcome (EXPECTED_ERRORS), or None when it is not."""
    for (function, error_type, text, (name, value)), reason in EXPECTED_ERRORS.items():
        if (
            invocation.function == function
            and invocation.error_type == error_type
            and text in invocation.error_message
            and parameters.get(name) == value
        ):
            return reason
    return None


def run_pipeline_and_events(
    stack: LocalStack, dispatcher: Dispatcher, report: ScenarioReport, events: Iterator[tuple[str, Path]]
) -> None:
    stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/breast-cancer.csv", Body=breast_cancer_csv())
    dispatcher.source = f"pipeline execution {EXAMPLE_EXECUTION}"
    request = {**EXAMPLE_REQUEST, "dataset_uri": f"s3://{stack.bucket}/datasets/breast-cancer.csv"}
    result = run_training(stack, request, execution_name=EXAMPLE_EXECUTION, timeout_s=600)
    report.pipeline = f"{result.status}, ended in {result.end_state}, {result.duration_s:.1f} s"
    if not result.deployed:
        report.failures.append(f"the pipeline did not deploy: {result.status} {result.error}: {result.cause}")
    lambda_client = stack.client("lambda")
    for logical_id, path in events:
        dispatcher.source = str(path.relative_to(ROOT))
        response = lambda_client.invoke(FunctionName=stack.function_names[logical_id], Payload=path.read_bytes())
        body = json.loads(response["Payload"].read() or b"null")
        if isinstance(body, dict) and "statusCode" in body:
            report.api_statuses[dispatcher.source] = body["statusCode"]
            if body["statusCode"] >= 500:
                report.failures.append(f"{dispatcher.source}: HTTP {body['statusCode']} {body.get('body', '')[:200]}")
    predict = [status for source, status in report.api_statuses.items() if source.startswith("events/predict/")]
    if predict and set(predict) != {200}:
        report.failures.append(f"the predict API answered {predict}, not 200")
    dispatcher.source = "executions started by the events"
    wait_for_executions(stack)


def wait_for_executions(stack: LocalStack, timeout_s: float = 600.0) -> None:
    """Executions the API events started must finish before the stack stops (their steps run in the workers)."""
    sfn = stack.client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    for arn in stack.state_machine_arns.values():
        while sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"executions of {arn} still running after {timeout_s:.0f} s")
            time.sleep(0.2)


# ---- main ---------------------------------------------------------------------------------------------------------


def scenarios(functions: list[BuiltFunction], template_defaults: dict[str, str]) -> list[dict[str, str]]:
    """Parameter sets that together give every function each of its layer sets; the template's defaults first."""
    varied: dict[str, set[str]] = {}
    for function in functions:
        for name, value in function.parameters:
            varied.setdefault(name, set()).add(value)
    names = sorted(varied)
    combinations = [
        dict(zip(names, values, strict=True)) for values in itertools.product(*map(sorted, varied.values()))
    ]
    return sorted(combinations, key=lambda c: [c[n] != template_defaults.get(n) for n in names])


def print_report(report: ScenarioReport, domain: frozenset[str]) -> None:
    label = ", ".join(f"{k}={v}" for k, v in report.parameters.items()) or "template defaults"
    print(f"\nscenario {label}: {report.duration_s:.1f} s; pipeline {report.pipeline}")
    print(f"  {'function':24} {'init s':>6} {'calls':>5} {'busy s':>6}")
    for logical_id, init in sorted(report.inits.items()):
        calls = [c for c in report.invocations if c.function == logical_id]
        print(f"  {logical_id:24} {init['init_s']:6.2f} {len(calls):5d} {sum(c.duration_s for c in calls):6.2f}")
    handled = sorted(
        {
            (c.function, c.source, c.error_type, c.error_message[:110])
            for c in report.invocations
            if c.error_type in domain
        }
    )
    if handled:
        print("  domain errors (the code ran and decided; stale events/ digests show up here: `make events`):")
        for function, source, error_type, message in handled:
            print(f"    {function} ({source}): {error_type}: {message}")
    designed = {
        (c.function, c.source, c.error_type, reason)
        for c in report.invocations
        if c.error_type not in domain and (reason := expected(c, report.parameters))
    }
    for function, source, error_type, reason in sorted(designed):
        print(f"  expected: {function} ({source}): {error_type}: {reason}")
    if report.api_statuses:
        print("  API events: " + ", ".join(f"{Path(s).stem} {code}" for s, code in report.api_statuses.items()))
    print(f"  X-Ray segments received from the functions' tracers: {report.segments}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.smoke_built", description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", type=Path, default=BUILD_DIR)
    parser.add_argument("--architecture", choices=sorted(build_layer.ARCHITECTURES), default="x86_64")
    arguments = parser.parse_args(argv)
    if not build_layer.host_can_run(arguments.architecture):
        print(
            f"smoke test: cannot run {arguments.architecture} artifacts on this {platform.machine()} machine; "
            "tools/size_check.py has checked that every shared object is built for it"
        )
        return 1
    started = time.perf_counter()
    try:
        functions = built_functions(build_dir=arguments.build_dir)
    except FileNotFoundError as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 2
    runtime = lambda_runtime()
    python = clean_python()
    problems = [f"{f.logical_id} ({f.variant or 'default'}): {p}" for f in functions for p in overlapping_layers(f)]
    problems += [
        f"{f.logical_id} ({f.variant or 'default'}): {p}"
        for f in functions
        for p in missing_dependencies(f, runtime, arguments.architecture)
    ]
    where = os.path.relpath(arguments.build_dir, ROOT), os.path.relpath(runtime, ROOT)
    print(f"smoke test of {where[0]} with {python} (-I -S -B) + {where[1]}")
    print(f"  dependencies and layer overlaps of {len(functions)} function configurations: {len(problems)} problem(s)")
    for problem in problems:
        print(f"    {problem}")
    setup = Setup(python, runtime, domain_errors())
    template_parameters = load_template().get("Parameters", {})
    defaults = {name: str(p.get("Default", "")) for name, p in template_parameters.items()}
    failures = list(problems)
    tested: set[tuple[str, tuple[str, ...]]] = set()
    for parameters in scenarios(functions, defaults):
        chosen = [f for f in functions if all(parameters.get(k) == v for k, v in f.parameters)]
        replay = {f.logical_id for f in chosen if (f.logical_id, tuple(map(str, f.layer_paths))) not in tested}
        tested |= {(f.logical_id, tuple(map(str, f.layer_paths))) for f in chosen}
        report = run_scenario(setup, chosen, parameters, replay)
        print_report(report, setup.domain_errors)
        failures += report.failures
    elapsed = time.perf_counter() - started
    if failures:
        print(f"\nsmoke test: FAILED in {elapsed:.1f} s\n  " + "\n  ".join(failures))
        print(f"  (each function's stderr: {os.path.relpath(LOGS_DIR, ROOT)}/<function>.stderr.log)")
        return 1
    print(f"\nsmoke test: passed in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
