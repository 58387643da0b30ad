"""`sam local invoke` offline: every function has an event in events/, events/env.json names for each function only
variables the template declares for it (SAM CLI ignores the others) and the local stack's resources, and every event,
sent to its handler in another process under the env file's variables, passes against `python -m local aws-server
--example` (moto's server over the local stack) — the objects the events name are there.

The replayed events are captured from the very executions the server holds (as `python -m local write-events` does):
the events pin the digests of trained and converted models, and bytes a step computes in one environment may differ
in the last bit in another (a process whose earlier work changed a library's state, another CPU's vector code), so a
replay of the committed files can only pass where they were written."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from local import aws_server
from local.runs.event_files import (
    APPROVAL_REQUEST,
    AWS_SERVER_PORT,
    ENDPOINT_VARIABLE,
    ENV_FILE,
    EVENTS_DIR,
    capture_events,
    env_file,
    function_folder,
    run_example_executions,
)
from local.stack import LocalStack
from local.template import ROOT, function_environment, load_template, resources_of_type

pytestmark = pytest.mark.integration

TEMPLATE = load_template()
FUNCTIONS = sorted(resources_of_type(TEMPLATE, "AWS::Serverless::Function"))
ENV_VARS = json.loads(ENV_FILE.read_text())


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_every_function_has_an_event(logical_id):
    folder = EVENTS_DIR / function_folder(TEMPLATE, logical_id)
    assert sorted(folder.glob("*.json")), f"no event for {logical_id} in {folder.relative_to(ROOT)}"


def test_the_env_file_sets_only_declared_variables_of_every_function():
    assert sorted(ENV_VARS) == FUNCTIONS
    for logical_id, variables in ENV_VARS.items():
        declared = function_environment(TEMPLATE, logical_id)
        assert set(variables) == set(declared), logical_id  # SAM CLI would silently drop an undeclared one
        assert variables[ENDPOINT_VARIABLE] == f"http://127.0.0.1:{AWS_SERVER_PORT}"


@pytest.fixture(scope="module")
def captured(tmp_path_factory) -> Iterator[tuple[aws_server.AwsServer, Path, list[Path]]]:
    """The aws-server over the example executions, and events/ with the events captured from them written over the
    committed ones (the API, drift and predict_sklearn events are written by hand or by tools/write_api_events.py)."""
    events_dir = tmp_path_factory.mktemp("replayed") / "events"
    shutil.copytree(EVENTS_DIR, events_dir)
    with LocalStack() as stack:
        written = capture_events(stack, run_example_executions(stack), events_dir)
        with aws_server.serving(stack, port=0, example=True) as running:
            yield running, events_dir, written


@pytest.fixture(scope="module")
def server(captured) -> aws_server.AwsServer:
    return captured[0]


def test_every_event_the_executions_give_is_committed(captured):
    # (that each committed event has the shape of a real execution's payload: tests/fuzz/test_step_handlers.py)
    _, events_dir, written = captured
    assert written
    missing = [str(p.relative_to(events_dir)) for p in written if not (EVENTS_DIR / p.relative_to(events_dir)).exists()]
    assert not missing, f"events/ lacks events the executions give, run `make events`: {missing}"


def test_the_env_file_names_the_local_stacks_resources(server):
    assert env_file(server.stack, f"http://127.0.0.1:{AWS_SERVER_PORT}") == ENV_VARS


def test_every_event_replays_against_the_aws_server(captured):
    server, events_dir, _ = captured
    # When every event is sent to its handler in another process, AWS calls going to the server's endpoint
    result = subprocess.run(
        [sys.executable, "-m", "tools.invoke_events", "--endpoint", server.endpoint, "--events-dir", str(events_dir)]
        + ["--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    outcomes = json.loads(result.stdout)
    failed = [f"{o['event']}: {o['detail']}" for o in outcomes if not o["passed"]]
    assert result.returncode == 0 and not failed, "\n".join(failed) + result.stderr[-3000:]
    # Then every event file was replayed
    replayed = {Path(o["event"]).relative_to(events_dir) for o in outcomes}
    assert replayed == {p.relative_to(EVENTS_DIR) for p in EVENTS_DIR.glob("*/*.json")}
    # and the handlers' writes are in the server's stack: the reproduction's report, the approval's token
    stack = server.stack
    registry = stack.registry()
    reproduced = [e for e in registry.list_events("breast-cancer") if e.event_type == "VersionReproduced"]
    assert reproduced and reproduced[-1].after["reproduced"] is True
    report = reproduced[-1].after["report_uri"].removeprefix(f"s3://{stack.bucket}/")
    assert stack.client("s3").head_object(Bucket=stack.bucket, Key=report)["ContentLength"] > 0
    waiting = registry.get_version(APPROVAL_REQUEST["model_name"], 1)
    token = json.loads((events_dir / "approval" / "await_approval.json").read_text())["task_token"]
    assert waiting.status == "PendingApproval" and waiting.approval_task_token == token
