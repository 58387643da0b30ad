"""`mlops train` and `mlops runs`: start a TrainingPipeline run and follow it; list and show runs."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import click

from mlops_cli import render
from mlops_cli.context import EXIT_FAILED, EXIT_USAGE, CliError, Context, out, pass_context, read_json_file
from mlops_client.errors import WaitTimeout

if TYPE_CHECKING:
    from mlops_client.jobs import Run


def _search(
    request: dict[str, Any], search_file: str | None, max_trials: int | None, candidates_file: str | None
) -> dict[str, Any]:
    """The request's search: the file's (a search object, or {"search": {...}}), --max-trials over it."""
    if candidates_file:
        raise CliError("--candidates lists the models to train; --search/--max-trials samples them", EXIT_USAGE)
    search = dict(request.get("search") or {})
    if search_file:
        document = read_json_file(search_file, "search file")
        if not isinstance(document, dict):
            raise CliError(f"search file {search_file} must hold a JSON object", EXIT_USAGE)
        search = document.get("search", document)
    if max_trials is not None:
        search["max_trials"] = max_trials
    return search


def _training_request(request_file: str | None, candidates_file: str | None, flags: dict[str, Any]) -> dict[str, Any]:
    """The request file's document with the flags applied over it."""
    request: dict[str, Any] = {}
    if request_file:
        request = read_json_file(request_file, "request file")
        if not isinstance(request, dict):
            raise CliError(f"request file {request_file} must hold a JSON object", EXIT_USAGE)
    for field in ("model_name", "dataset_uri", "target", "task", "description", "compute"):
        if flags[field]:
            request[field] = flags[field]
    if candidates_file:
        candidates = read_json_file(candidates_file, "candidates file")
        request["candidates"] = candidates.get("candidates") if isinstance(candidates, dict) else candidates
    if flags["search_file"] or flags["max_trials"] is not None:
        request["search"] = _search(request, flags["search_file"], flags["max_trials"], candidates_file)
    gate = dict(request.get("gate") or {})
    if flags["gate_metric"]:
        gate["metric"] = flags["gate_metric"]
    if flags["min_score"] is not None:
        gate["min_score"] = flags["min_score"]
    if gate:
        request["gate"] = gate
    if flags["approval"]:
        request["approval"] = {**(request.get("approval") or {}), "required": True}
    required = ("model_name", "dataset_uri", "target")
    missing = [f"--{name.replace('_', '-')}" for name in required if not request.get(name)]
    if missing:
        raise CliError(f"the training request needs {', '.join(missing)} (flags or REQUEST.json)", EXIT_USAGE)
    return request


@click.command()
@click.argument("request_file", required=False, metavar="[REQUEST.json]")
@click.option("--model-name", help="registry name of the model")
@click.option("--dataset-uri", help="s3://bucket/key of the training CSV, or a local path (uploaded first, by sha256)")
@click.option("--target", help="column to predict")
@click.option("--task", type=click.Choice(["classification", "regression"]))
@click.option("--candidates", "candidates_file", metavar="FILE.json", help='[{"estimator": ..., "params": {...}}]')
@click.option("--max-trials", type=click.IntRange(min=1), help="search N trials (default spaces unless --search)")
@click.option("--search", "search_file", metavar="FILE.json", help="the search: spaces, max_trials, halving, ...")
@click.option("--gate-metric", help="metric the gate compares")
@click.option("--min-score", type=float, help="absolute threshold the winner must meet")
@click.option("--approval", is_flag=True, help="wait for a human approval before deploying")
@click.option(
    "--compute",
    type=click.Choice(["lambda", "sagemaker"]),
    help="train on the Train function or a SageMaker training job (default: lambda; sagemaker above its memory)",
)
@click.option("--description", help="what the model does (model card)")
@click.option("--client-token", help="retrying with the same token never starts a second run (default: random)")
@click.option("--wait/--no-wait", default=True, show_default=True, help="follow the run until it ends")
@click.option("--max-wait-s", type=click.FloatRange(min=1), default=3600.0, show_default=True)
@pass_context
def train(ctx: Context, request_file: str | None, candidates_file: str | None, **flags: Any) -> None:
    """Start a TrainingPipeline run and follow it state by state (exit 0: succeeded, 1: failed).

    \b
    mlops train --dataset-uri ./churn.csv --target churned --model-name churn
    mlops train request.json --max-trials 20 --approval
    mlops train --dataset-uri s3://bucket/datasets/churn.csv --target churned --model-name churn --no-wait
    """
    request = _training_request(request_file, candidates_file, flags)
    # no requested_by: the API records the caller's IAM identity as the requester (a body field cannot name another)
    token = flags["client_token"] or request.pop("client_token", None) or f"cli-{uuid.uuid4().hex}"
    run = ctx.client.train(request, client_token=token)
    if not ctx.as_json:
        verb = "started" if run.started else "already started with this client token"
        click.echo(f"run {run.execution_id} {verb} (model {request['model_name']})", err=True)
    if not flags["wait"]:
        started = run.document
        out(ctx, started, lambda: click.echo(started["execution_id"]))
        return
    final = _follow(ctx, run, flags["max_wait_s"]).document
    out(ctx, final, lambda: _print_run(final))
    if final["status"] != "SUCCEEDED":
        raise click.exceptions.Exit(EXIT_FAILED)


def _follow(ctx: Context, run: Run, max_wait_s: float) -> Run:
    """Wait for the run; print each state as it is entered and left (stderr), with a live status line on a terminal."""
    start = time.monotonic()
    show = not ctx.as_json
    status_line = render.console(stderr=True).status("starting") if show else None

    from mlops_client.jobs import seconds_since_start  # noqa: PLC0415 - `mlops --help` never pays for the SDK's types

    def on_step(run: Run, step: dict[str, Any]) -> None:
        if show:
            mark = "→" if step["event"] == "entered" else "✓"
            click.echo(f"  {seconds_since_start(run, step):7.2f}s  {mark} {step['state']}", err=True)

    def on_update(run: Run) -> None:
        if status_line is not None and not run.done:
            current = next((s["state"] for s in reversed(run.steps) if s["event"] == "entered"), "starting")
            status_line.update(f"{run.status.lower()} · {current} · {time.monotonic() - start:.0f}s")

    if status_line is not None:
        status_line.start()
    try:
        return run.wait(timeout_s=max_wait_s, on_step=on_step, on_update=on_update)
    except WaitTimeout:
        raise CliError(
            f"run {run.execution_id} still {run.status} after {max_wait_s:.0f} s; "
            f"follow it with `mlops runs show {run.execution_id}`",
            EXIT_FAILED,
        ) from None
    finally:
        if status_line is not None:
            status_line.stop()


def _print_run(run: dict[str, Any]) -> None:
    registration = run.get("registration") or {}
    deployment = run.get("deployment") or {}
    gate = run.get("gate") or {}
    items = [
        ("run", run["execution_id"]),
        ("status", run["status"]),
        ("model", run.get("model_name")),
        ("started", run.get("started_at")),
        ("stopped", run.get("stopped_at")),
    ]
    if run["status"] == "FAILED":
        items += [("error", run.get("error")), ("cause", (run.get("cause") or "")[:300])]
    if registration:
        items += [("version", registration.get("version")), ("version status", registration.get("status"))]
    if gate:
        items += [("gate", gate.get("decision")), ("reasons", "; ".join(gate.get("reasons") or []))]
    if run.get("compute"):
        items += [("trained on", run["compute"])]
    if run.get("metrics"):
        items += [("metrics", ", ".join(f"{k} {v:.4f}" for k, v in run["metrics"].items()))]
    if run["status"] == "SUCCEEDED":
        items += [("deployed", bool(deployment) and deployment.get("deployed", True))]
    render.pairs(None, items)


@click.group()
def runs() -> None:
    """Training runs: list, show.

    \b
    mlops runs list --limit 5
    mlops runs show EXECUTION_ID --json
    """


@runs.command("list")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@pass_context
def runs_list(ctx: Context, limit: int) -> None:
    """The newest training runs."""
    found = [r.document for r in ctx.client.runs(limit)]
    out(
        ctx,
        found,
        lambda: render.table(
            "training runs",
            ["run", "model", "status", "started", "stopped"],
            [[r["execution_id"], r["model_name"], r["status"], r["started_at"], r["stopped_at"]] for r in found],
        ),
    )


@runs.command("show")
@click.argument("execution_id")
@pass_context
def runs_show(ctx: Context, execution_id: str) -> None:
    """A run's status and result, with the states it went through."""
    run = ctx.client.run(execution_id, steps=True).document

    def human() -> None:
        _print_run(run)
        exited = [s["state"] for s in run.get("steps") or [] if s["event"] == "exited"]
        click.echo(f"states: {' → '.join(exited) or '-'}")

    out(ctx, run, human)
