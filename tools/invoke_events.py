"""`sam local invoke` without Docker: every events/<function>/*.json sent to its function's handler, under the variables
an env-vars file gives that function, against an endpoint (`python -m local aws-server`).

    python -m tools.invoke_events [--env-vars events/env.json] [--endpoint http://127.0.0.1:5000] [--json] [FUNCTION...]

What `sam local invoke <Function> -e events/<folder>/<case>.json --env-vars events/env.json` does in a container, this
does in one Python process, function after function: the variables SAM CLI would set (the file's, which name only
variables the template declares, and SAM's own AWS_SAM_LOCAL, AWS_LAMBDA_FUNCTION_NAME, region and placeholder
credentials), the function's handler imported from the repository, a Lambda context, and every AWS call sent to the
endpoint. An invocation passes when the handler returns (an API answer below 500); ``EXPECTED_ERRORS`` lists the events
whose named domain error is their point. Exit status 0 only when every invocation passed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import sys
import time
import traceback
import uuid
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import local  # noqa: F401 - puts the core layer on sys.path, as Lambda puts /opt/python
from local.runs.event_files import ENDPOINT_VARIABLE, ENV_FILE, EVENTS_DIR, MAP_RESULTS_DIR, function_folder
from local.template import ROOT, function_memory_size, function_property, load_template, resources_of_type
from mlops.storage import clients

# Pipeline order first (a step's event names what the one before it wrote), then the others by name. Convert is
# replayed after the events that name its output's digest (the parity check, Register): the same model's ONNX bytes
# have been seen to differ between two processes (once on CI, once in a full local run; not reproduced in isolation),
# and a replayed Convert would otherwise overwrite the artifact those events pin with other bytes.
STEP_ORDER = [
    "prepare", "plan_trials", "train", "evaluate", "predict", "register", "convert", "approval", "deploy",
    "predict_sklearn", "batch",
    "record_failure", "reproduce", "drift", "api",
]  # fmt: skip
# (folder, case) -> the error the event exists to show
EXPECTED_ERRORS = {("prepare", "unknown_target"): "InvalidDataset"}


@dataclass
class Outcome:
    function: str
    event: str
    passed: bool
    detail: str
    duration_s: float


class Context:
    """The attributes of the Lambda context that handlers and Powertools read."""

    def __init__(self, function_name: str, memory_mb: int, timeout_s: float) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"aws/lambda/{function_name}"
        self.log_stream_name = "$LATEST"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def sam_variables(logical_id: str, template: dict[str, Any], declared: dict[str, str]) -> dict[str, str]:
    """What SAM CLI's EnvironmentVariables.resolve() gives a function: its AWS_* variables, then the declared ones."""
    return {
        "AWS_SAM_LOCAL": "true",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function_memory_size(template, logical_id)),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(function_property(template, logical_id, "Timeout", 3)),
        "AWS_LAMBDA_FUNCTION_HANDLER": function_property(template, logical_id, "Handler"),
        "AWS_LAMBDA_FUNCTION_NAME": logical_id,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "defaultkey",
        "AWS_SECRET_ACCESS_KEY": "defaultsecret",
        **declared,
    }


def ordered_events(folders: dict[str, str], wanted: set[str], events_dir: Path = EVENTS_DIR) -> list[tuple[str, Path]]:
    order = {name: index for index, name in enumerate(STEP_ORDER)}
    result = []
    for folder in sorted(folders, key=lambda name: (order.get(name, len(order)), name)):
        if not wanted or folders[folder] in wanted:
            result += [(folders[folder], path) for path in sorted((events_dir / folder).glob("*.json"))]
    return result


def _put_map_results(path: Path) -> None:
    """What a Distributed Map's ResultWriter wrote for this event's run (no function writes it): put back as
    recorded (``events/<folder>/map_results/<case>.json``, written by ``python -m local write-events``)."""
    recorded = path.parent / MAP_RESULTS_DIR / path.name
    if not recorded.exists():
        return
    document = json.loads(recorded.read_text())
    for key, body in document["Objects"].items():
        clients.client("s3").put_object(Bucket=document["Bucket"], Key=key, Body=json.dumps(body).encode())


def invoke(logical_id: str, path: Path, template: dict[str, Any], variables: dict[str, str]) -> Outcome:
    folder = function_folder(template, logical_id)
    saved = dict(os.environ)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_SECURITY_TOKEN", None)
    os.environ.update(sam_variables(logical_id, template, variables))
    clients.reset_clients()  # clients are made again under this function's endpoint and credentials
    started = time.perf_counter()
    name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    logs = io.StringIO()  # the handler's log lines, as CloudWatch Logs would get them; shown when it fails
    try:
        with contextlib.redirect_stdout(logs), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Powertools warns when a handler adds no metric
            handler_module, handler_name = function_property(template, logical_id, "Handler").rsplit(".", 1)
            module = importlib.import_module(f"functions.{folder}.{handler_module}")
            context = Context(logical_id, int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]), 300)
            event = json.loads(path.read_text())
            _put_map_results(path)
            result = getattr(module, handler_name)(event, context)
        status = result.get("statusCode") if isinstance(result, dict) else None
        passed = status is None or int(status) < 500
        detail = f"HTTP {status}" if status is not None else "returned"
        if not passed:
            detail += f" {str(result.get('body'))[:200]}"
    except Exception as exc:  # noqa: BLE001 - an invocation's error is its outcome, as Lambda reports it
        expected = EXPECTED_ERRORS.get((folder, path.stem))
        passed = type(exc).__name__ == expected
        detail = f"{type(exc).__name__}: {str(exc)[:160]}"
        if not passed:
            detail += "\n" + traceback.format_exc(limit=4) + logs.getvalue()[-2000:]
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return Outcome(logical_id, name, passed, detail, time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.invoke_events", description=__doc__.split("\n\n")[0])
    parser.add_argument("functions", nargs="*", metavar="FUNCTION", help="logical ids (default: every function)")
    parser.add_argument("--env-vars", type=Path, default=ENV_FILE, help="the sam local --env-vars file")
    parser.add_argument("--events-dir", type=Path, default=EVENTS_DIR, help="the events folder (default: events/)")
    parser.add_argument("--endpoint", help=f"overrides the file's {ENDPOINT_VARIABLE} (the aws-server's address)")
    parser.add_argument("--json", action="store_true", help="print the outcomes as JSON")
    arguments = parser.parse_args(argv)
    template = load_template()
    env_vars = json.loads(arguments.env_vars.read_text())
    logical_ids = sorted(resources_of_type(template, "AWS::Serverless::Function"))
    unknown = set(arguments.functions) - set(logical_ids)
    if unknown:
        parser.error(f"no such function(s): {', '.join(sorted(unknown))}")
    folders = {function_folder(template, logical_id): logical_id for logical_id in logical_ids}
    outcomes = []
    for logical_id, path in ordered_events(folders, set(arguments.functions), arguments.events_dir):
        variables = dict(env_vars[logical_id])
        if arguments.endpoint:
            variables[ENDPOINT_VARIABLE] = arguments.endpoint
        outcome = invoke(logical_id, path, template, variables)
        outcomes.append(outcome)
        if not arguments.json:
            mark = "ok  " if outcome.passed else "FAIL"
            print(f"{mark} {outcome.function:24} {outcome.event:52} {outcome.duration_s:6.2f}s  {outcome.detail}")
    if arguments.json:
        print(json.dumps([asdict(o) for o in outcomes], indent=2))
    failed = [o for o in outcomes if not o.passed]
    print(f"{len(outcomes) - len(failed)} of {len(outcomes)} invocations passed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
