"""Observability once: the handlers take their Logger, Tracer and Metrics from mlops.observability, the traced ones
wear Powertools' decorators in the standard order, and the lean ones never build a Tracer at cold start."""

from __future__ import annotations

import ast
import importlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from local.template import function_property, load_template, resources_of_type
from mlops import observability

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
HANDLERS = sorted(  # the folders of the template's functions (functions/<name>/, Handler app.lambda_handler)
    Path(function_property(TEMPLATE, logical_id, "CodeUri")).name
    for logical_id in resources_of_type(TEMPLATE, "AWS::Serverless::Function")
)
LEAN = ("batch", "predict", "predict_sklearn")  # the logger only: no Tracer, no metrics flush
TRACED = [name for name in HANDLERS if name not in LEAN]
STANDARD_ORDER = [
    "Logger.inject_lambda_context.<locals>.decorate",
    "Tracer.capture_lambda_handler.<locals>.decorate",
    "BaseProvider.log_metrics.<locals>.decorate",
]


def decorators(handler: object) -> list[str]:
    """The Powertools wrappers around a handler, outermost first (functools.wraps keeps the names, not the code)."""
    chain = []
    while hasattr(handler, "__wrapped__"):
        chain.append(handler.__code__.co_qualname)  # type: ignore[attr-defined]
        handler = handler.__wrapped__  # type: ignore[attr-defined]
    return chain


def module_level_powertools(source: str) -> list[str]:
    """The Logger, Tracer and Metrics a module builds when it is imported (assignments at its top level)."""
    built = []
    for node in ast.parse(source).body:
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        called = value.func if isinstance(value, ast.Call) else None
        if isinstance(called, ast.Name) and called.id in ("Logger", "Tracer", "Metrics"):
            built.append(called.id)
    return built


@pytest.mark.parametrize("name", TRACED)
def test_every_traced_handler_wears_the_decorators_in_the_standard_order(name: str) -> None:
    handler = importlib.import_module(f"functions.{name}.app").lambda_handler
    assert decorators(handler) == STANDARD_ORDER


def test_the_order_check_sees_a_handler_decorated_in_another_order() -> None:
    def handler(event: dict, context: object) -> dict:
        return event

    reordered = observability.tracer().capture_lambda_handler(
        observability.logger.inject_lambda_context(observability.metrics.log_metrics(handler))
    )
    assert decorators(reordered) == [STANDARD_ORDER[1], STANDARD_ORDER[0], STANDARD_ORDER[2]]


@pytest.mark.parametrize("name", HANDLERS)
def test_no_handler_builds_its_own_logger_tracer_or_metrics(name: str) -> None:
    assert module_level_powertools((ROOT / "functions" / name / "app.py").read_text()) == []


def test_the_preamble_check_sees_a_copied_preamble() -> None:
    copied = "from aws_lambda_powertools import Logger, Metrics, Tracer\nlogger = Logger()\ntracer = Tracer()\n"
    assert module_level_powertools(copied + "metrics: Metrics = Metrics()\n") == ["Logger", "Tracer", "Metrics"]


def test_an_instrumented_handler_logs_its_context_and_flushes_its_metrics(lambda_context, capsys) -> None:
    # Given a handler wearing the standard decorators, with a correlation id path
    @observability.instrumented(correlation_id_path="requestContext.requestId")
    def handler(event: dict, context: object) -> dict:
        observability.logger.info("inside")
        observability.metrics.add_metric(name="Handled", unit="Count", value=1)
        return {"answer": event["question"]}

    # When it is invoked
    stream = observability.logger.registered_handler
    log = io.StringIO()
    before = stream.setStream(log)  # type: ignore[attr-defined]
    try:
        answer = handler({"question": 42, "requestContext": {"requestId": "req-1"}}, lambda_context)
    finally:
        stream.setStream(before)  # type: ignore[attr-defined]

    # Then it answers as the bare function would, its log line carries the context and the correlation id, and the
    # metrics it added are flushed with the invocation
    assert answer == {"answer": 42}
    (logged,) = [json.loads(line) for line in log.getvalue().splitlines() if '"inside"' in line]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert logged["function_request_id"] == lambda_context.aws_request_id
    assert logged["correlation_id"] == "req-1"
    flushed = {
        metric["Name"]
        for line in lines
        for directive in line.get("_aws", {}).get("CloudWatchMetrics", [])
        for metric in directive["Metrics"]
    }
    assert "Handled" in flushed


def test_the_lean_handlers_never_build_a_tracer_at_cold_start() -> None:
    # Building a Tracer loads the X-Ray SDK (~200 ms) even with tracing disabled; the traced handlers pay it, the
    # lean ones (the predict path, batch scoring) must not, so mlops.observability builds the Tracer on first use.
    probe = (
        "import sys, functions.batch.app, functions.predict.app;"
        "lean = 'aws_xray_sdk' in sys.modules;"
        "import functions.approval.app;"
        "print(lean, 'aws_xray_sdk' in sys.modules)"
    )
    env = {"PYTHONPATH": f"{ROOT}:{ROOT / 'layers/core/python'}", "AWS_DEFAULT_REGION": "us-east-1"}
    env["POWERTOOLS_TRACE_DISABLED"] = "1"
    output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False)
    assert output.returncode == 0, output.stderr
    assert output.stdout.split() == ["False", "True"]  # not by the lean handlers; by the first traced one
