"""`sam local invoke` offline: every function has an event in events/, events/env.json names for each function only
variables the template declares for it (SAM CLI ignores the others) and the local stack's resources, and every event,
sent to its handler in another process under the env file's variables, passes against `python -m local aws-server
--example` (moto's server over the local stack) — the objects the events name are there."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from local import aws_server
from local.event_files import (
    APPROVAL_REQUEST,
    AWS_SERVER_PORT,
    ENDPOINT_VARIABLE,
    ENV_FILE,
    EVENTS_DIR,
    env_file,
    function_folder,
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
def server() -> Iterator[aws_server.AwsServer]:
    with LocalStack() as stack, aws_server.serving(stack, port=0, example=True) as running:
        yield running


def test_the_env_file_names_the_local_stacks_resources(server):
    assert env_file(server.stack, f"http://127.0.0.1:{AWS_SERVER_PORT}") == ENV_VARS


def test_every_event_replays_against_the_aws_server(server, tmp_path):
    # When every event is sent to its handler in another process, AWS calls going to the server's endpoint
    result = subprocess.run(
        [sys.executable, "-m", "tools.invoke_events", "--endpoint", server.endpoint, "--json"],
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
    replayed = {Path(o["event"]) for o in outcomes}
    assert replayed == {p.relative_to(ROOT) for p in EVENTS_DIR.glob("*/*.json")}
    # and the handlers' writes are in the server's stack: the reproduction's report, the approval's token
    stack = server.stack
    registry = stack.registry()
    reproduced = [e for e in registry.list_events("breast-cancer") if e.event_type == "VersionReproduced"]
    assert reproduced and reproduced[-1].after["reproduced"] is True
    report = reproduced[-1].after["report_uri"].removeprefix(f"s3://{stack.bucket}/")
    assert stack.client("s3").head_object(Bucket=stack.bucket, Key=report)["ContentLength"] > 0
    waiting = registry.get_version(APPROVAL_REQUEST["model_name"], 1)
    token = json.loads((EVENTS_DIR / "approval" / "await_approval.json").read_text())["task_token"]
    assert waiting.status == "PendingApproval" and waiting.approval_task_token == token
