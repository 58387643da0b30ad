"""`mlops`: the command line of a deployed stack (`--stack NAME`, SigV4) or of `python -m local up` (`--url`).

Every verb is one or a few calls of the HTTP API (docs/api.md). Human tables by default, `--json` for scripts;
errors are one line on stderr with exit code 1 (refused, failed), 2 (usage) or 3 (unreachable, no credentials).
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import click

from mlops_cli import render
from mlops_cli.transport import EXIT_FAILED, EXIT_USAGE, Api, ApiError, CliError, local_api, stack_api

PREDICT_BATCH_ROWS = 1000  # the predict route's limit per request
TERMINAL_STATUSES = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


class Context:
    def __init__(self, **options: Any) -> None:
        self.options = options
        self.as_json: bool = options["as_json"]
        self._api: Api | None = None

    @property
    def api(self) -> Api:
        if self._api is None:
            url, stack = self.options["url"], self.options["stack"]
            if url and stack:
                raise CliError("give either --url or --stack, not both", EXIT_USAGE)
            timeout_s = self.options["timeout_s"]
            if stack:
                self._api = stack_api(
                    stack, self.options["region"], self.options["profile"], self.options["api_key"], timeout_s
                )
            elif url:
                self._api = local_api(url, self.options["api_key"], timeout_s, self.options["as_user"])
            else:
                raise CliError(
                    "no API: pass --stack NAME (deployed) or --url http://127.0.0.1:3000 (python -m local up), "
                    "or set MLOPS_STACK / MLOPS_URL",
                    EXIT_USAGE,
                )
        return self._api


pass_context = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--url", envvar="MLOPS_URL", help="API of `python -m local up`, e.g. http://127.0.0.1:3000 [MLOPS_URL]")
@click.option("--stack", envvar="MLOPS_STACK", help="CloudFormation stack name: its ApiUrl, SigV4-signed [MLOPS_STACK]")
@click.option("--region", envvar="AWS_REGION", help="the stack's region (default: botocore's configuration)")
@click.option("--profile", envvar="AWS_PROFILE", help="AWS profile for the credentials")
@click.option("--api-key", envvar="MLOPS_API_KEY", help="predict route key (a stack's is read from ApiKeyId)")
@click.option(
    "--as-user",
    envvar="MLOPS_AS_USER",
    help="with --url only: act as this IAM user name (e.g. an approver other than the requester); "
    "on AWS your credentials are the identity [MLOPS_AS_USER]",
)
@click.option("--json", "as_json", is_flag=True, help="print JSON documents instead of tables")
@click.option("--timeout-s", type=click.FloatRange(min=1), default=60.0, show_default=True, help="per request")
@click.pass_context
def cli(ctx: click.Context, **options: Any) -> None:
    """Train, inspect, deploy, govern and monitor models of a serverless MLOps stack."""
    ctx.obj = Context(**options)


def _out(ctx: Context, document: Any, human: Any) -> None:
    if ctx.as_json:
        render.emit_json(document)
    else:
        human()


# ---- training runs ------------------------------------------------------------------------------------------------
def _read_json_file(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CliError(f"{what} not found: {path}", EXIT_USAGE) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CliError(f"{what} {path} is not valid JSON: {exc}", EXIT_USAGE) from None


def _search(
    request: dict[str, Any], search_file: str | None, max_trials: int | None, candidates_file: str | None
) -> dict[str, Any]:
    """The request's search: the file's (a search object, or {"search": {...}}), --max-trials over it."""
    if candidates_file:
        raise CliError("--candidates lists the models to train; --search/--max-trials samples them", EXIT_USAGE)
    search = dict(request.get("search") or {})
    if search_file:
        document = _read_json_file(search_file, "search file")
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
        request = _read_json_file(request_file, "request file")
        if not isinstance(request, dict):
            raise CliError(f"request file {request_file} must hold a JSON object", EXIT_USAGE)
    for field in ("model_name", "dataset_uri", "target", "task", "description", "compute"):
        if flags[field]:
            request[field] = flags[field]
    if candidates_file:
        candidates = _read_json_file(candidates_file, "candidates file")
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


@cli.command()
@click.argument("request_file", required=False, metavar="[REQUEST.json]")
@click.option("--model-name", help="registry name of the model")
@click.option("--dataset-uri", help="s3://bucket/key of the training CSV")
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
    """Start a TrainingPipeline run and follow it state by state (exit 0: succeeded, 1: failed)."""
    request = _training_request(request_file, candidates_file, flags)
    # no requested_by: the API records the caller's IAM identity as the requester (a body field cannot name another)
    token = flags["client_token"] or request.pop("client_token", None) or f"cli-{uuid.uuid4().hex}"
    started = ctx.api.json("POST", "/pipelines/training", body={**request, "client_token": token})
    if not ctx.as_json:
        verb = "started" if started.get("started", True) else "already started with this client token"
        click.echo(f"run {started['execution_id']} {verb} (model {request['model_name']})", err=True)
    if not flags["wait"]:
        _out(ctx, started, lambda: click.echo(started["execution_id"]))
        return
    final = _follow(ctx, started["execution_id"], flags["max_wait_s"])
    _out(ctx, final, lambda: _print_run(final))
    if final["status"] != "SUCCEEDED":
        raise click.exceptions.Exit(EXIT_FAILED)


def _follow(ctx: Context, execution_id: str, max_wait_s: float) -> dict[str, Any]:
    """Poll the run; print each state as it is entered and left (stderr), with a live status line on a terminal."""
    deadline = time.monotonic() + max_wait_s
    start = time.monotonic()
    seen = 0
    show = not ctx.as_json
    status_line = render.console(stderr=True).status("starting") if show else None
    if status_line is not None:
        status_line.start()
    try:
        while True:
            run = ctx.api.json("GET", f"/pipelines/training/{execution_id}", query={"steps": True})
            steps = run.get("steps") or []
            for step in steps[seen:]:
                if show:
                    mark = "→" if step["event"] == "entered" else "✓"
                    elapsed_s = _seconds_between(run["started_at"], step["at"])
                    click.echo(f"  {elapsed_s:7.2f}s  {mark} {step['state']}", err=True)
            seen = len(steps)
            if run["status"] in TERMINAL_STATUSES:
                return run
            if status_line is not None:
                current = next((s["state"] for s in reversed(steps) if s["event"] == "entered"), "starting")
                status_line.update(f"{run['status'].lower()} · {current} · {time.monotonic() - start:.0f}s")
            if time.monotonic() > deadline:
                raise CliError(
                    f"run {execution_id} still {run['status']} after {max_wait_s:.0f} s; "
                    f"follow it with `mlops runs show {execution_id}`",
                    EXIT_FAILED,
                )
            time.sleep(0.5)
    finally:
        if status_line is not None:
            status_line.stop()


def _seconds_between(start: str, end: str) -> float:
    from datetime import datetime  # noqa: PLC0415

    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


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


@cli.group()
def runs() -> None:
    """Training runs: list, show."""


@runs.command("list")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@pass_context
def runs_list(ctx: Context, limit: int) -> None:
    """The newest training runs."""
    found = ctx.api.json("GET", "/pipelines/training", query={"limit": limit})
    _out(
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
    run = ctx.api.json("GET", f"/pipelines/training/{execution_id}", query={"steps": True})

    def human() -> None:
        _print_run(run)
        exited = [s["state"] for s in run.get("steps") or [] if s["event"] == "exited"]
        click.echo(f"states: {' → '.join(exited) or '-'}")

    _out(ctx, run, human)


# ---- registry -----------------------------------------------------------------------------------------------------
@cli.group()
def models() -> None:
    """Registered models: list, show."""


@models.command("list")
@pass_context
def models_list(ctx: Context) -> None:
    """Models with their latest and production versions."""
    found = ctx.api.json("GET", "/models")
    _out(
        ctx,
        found,
        lambda: render.table(
            "models",
            ["model", "latest", "production", "updated"],
            [[m["model_name"], m["latest_version"], m["production_version"], m["updated_at"]] for m in found],
        ),
    )


@models.command("show")
@click.argument("name")
@pass_context
def models_show(ctx: Context, name: str) -> None:
    """A model and its aliases (production, canary, previous version)."""
    model = ctx.api.json("GET", f"/models/{name}")

    def human() -> None:
        render.pairs(name, [("latest version", model["latest_version"]), ("updated", model["updated_at"])])
        render.table(
            "aliases",
            ["alias", "version", "previous", "canary", "weight", "updated", "by", "reason"],
            [
                [
                    a["alias"],
                    a["version"],
                    a.get("previous_version"),
                    a.get("canary_version"),
                    a.get("canary_weight"),
                    a.get("updated_at"),
                    a.get("updated_by"),
                    a.get("reason"),
                ]
                for a in model.get("aliases", {}).values()
            ],
        )

    _out(ctx, model, human)


@cli.group()
def versions() -> None:
    """Versions of a model: list, show, compare."""


@versions.command("list")
@click.argument("name")
@pass_context
def versions_list(ctx: Context, name: str) -> None:
    """Every version of a model with its status and holdout metrics."""
    found = ctx.api.json("GET", f"/models/{name}/versions")
    metric_names = sorted({k for v in found for k in (v.get("metrics") or {})})

    def human() -> None:
        render.table(
            f"{name}: versions",
            ["version", "status", "estimator", *metric_names, "created", "run"],
            [
                [
                    v["version"],
                    v["status"],
                    v["estimator"],
                    *((v.get("metrics") or {}).get(m) for m in metric_names),
                    v["created_at"],
                    v.get("run_id"),
                ]
                for v in found
            ],
        )

    _out(ctx, found, human)


@versions.command("show")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@pass_context
def versions_show(ctx: Context, name: str, version: int) -> None:
    """A version's full record: metrics, params, lineage, gate, serving."""
    record = ctx.api.json("GET", f"/models/{name}/versions/{version}")
    _out(ctx, record, lambda: render.pairs(f"{name} v{version}", _comparable(record).items()))


def _flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, into)
    else:
        into[prefix] = value


def _comparable(record: dict[str, Any]) -> dict[str, Any]:
    """The fields of a version worth reading side by side, flattened (metrics.f1, lineage.data_sha256, ...)."""
    flat: dict[str, Any] = {}
    for key in ("status", "estimator", "created_at", "created_by", "run_id", "task", "target"):
        flat[key] = record.get(key)
    for section in ("metrics", "validation_metrics", "params", "lineage"):
        _flatten(section, record.get(section) or {}, flat)
    gate = record.get("gate") or {}
    for key in ("decision", "metric", "challenger_score", "champion_score", "champion_version"):
        flat[f"gate.{key}"] = gate.get(key)
    serving = record.get("serving") or {}
    flat["serving.runtime"] = serving.get("runtime")
    flat["artifact_sha256"] = record.get("artifact_sha256")
    flat["features"] = len(((record.get("schema") or {}).get("features")) or [])
    return {k: v for k, v in flat.items() if not isinstance(v, list) or len(v) <= 10}


@versions.command("compare")
@click.argument("name")
@click.argument("version_a", type=click.IntRange(min=1))
@click.argument("version_b", type=click.IntRange(min=1))
@click.option("--all", "show_all", is_flag=True, help="also show the fields that are the same")
@pass_context
def versions_compare(ctx: Context, name: str, version_a: int, version_b: int, show_all: bool) -> None:
    """Metrics, params, data and lineage of two versions side by side."""
    a = _comparable(ctx.api.json("GET", f"/models/{name}/versions/{version_a}"))
    b = _comparable(ctx.api.json("GET", f"/models/{name}/versions/{version_b}"))
    rows = []
    for field in list(dict.fromkeys([*a, *b])):
        left, right = a.get(field), b.get(field)
        row: dict[str, Any] = {"field": field, "a": left, "b": right, "same": left == right}
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right)):
            row["difference"] = right - left
        rows.append(row)
    document = {"model_name": name, "a": version_a, "b": version_b, "fields": rows}

    def human() -> None:
        shown = [r for r in rows if show_all or not r["same"]]
        render.table(
            f"{name}: v{version_a} vs v{version_b}" + ("" if show_all else " (differences; --all for every field)"),
            ["field", f"v{version_a}", f"v{version_b}", "b − a"],
            [[r["field"], r["a"], r["b"], r.get("difference", "")] for r in shown],
        )

    _out(ctx, document, human)


# ---- deployments and governance -----------------------------------------------------------------------------------
def _show_alias(ctx: Context, result: dict[str, Any], title: str) -> None:
    def human() -> None:
        alias = result.get("alias") if isinstance(result.get("alias"), dict) else result
        render.pairs(title, [(k, v) for k, v in alias.items() if not isinstance(v, dict)])

    _out(ctx, result, human)


@cli.command()
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--canary-weight", type=click.FloatRange(0, 1), help="serve this share from VERSION (a canary)")
@click.option("--reason", default="", help="recorded in the audit trail")
@pass_context
def deploy(ctx: Context, name: str, version: int, canary_weight: float | None, reason: str) -> None:
    """Smoke-test VERSION and make it production (or a canary with --canary-weight)."""
    body: dict[str, Any] = {"version": version, "reason": reason}
    if canary_weight is not None:
        body["canary_weight"] = canary_weight
    _show_alias(ctx, ctx.api.json("POST", f"/models/{name}/deployments", body=body), f"{name}: deployed v{version}")


@cli.command()
@click.argument("name")
@click.option("--reason", default="", help="recorded in the audit trail")
@pass_context
def promote(ctx: Context, name: str, reason: str) -> None:
    """Make the canary production."""
    _show_alias(ctx, ctx.api.json("POST", f"/models/{name}/promote", body={"reason": reason}), f"{name}: promoted")


@cli.command()
@click.argument("name")
@click.option("--reason", default="", help="recorded in the audit trail")
@pass_context
def rollback(ctx: Context, name: str, reason: str) -> None:
    """Drop the canary, or move production back to its previous version."""
    result = ctx.api.json("POST", f"/models/{name}/rollback", body={"reason": reason})
    _show_alias(ctx, result, f"{name}: rolled back")


@cli.command()
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--reason", default="", help="recorded in the audit trail")
@pass_context
def approve(ctx: Context, name: str, version: int, reason: str) -> None:
    """Approve a version waiting for approval: its run resumes and deploys it."""
    result = ctx.api.json("POST", f"/models/{name}/versions/{version}/approve", body={"reason": reason})
    _out(ctx, result, lambda: render.pairs(f"{name} v{version} approved", result.items()))


@cli.command()
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--reason", required=True, help="why (required; recorded in the audit trail)")
@pass_context
def reject(ctx: Context, name: str, version: int, reason: str) -> None:
    """Reject a version waiting for approval: its run ends in ApprovalRejected."""
    result = ctx.api.json("POST", f"/models/{name}/versions/{version}/reject", body={"reason": reason})
    _out(ctx, result, lambda: render.pairs(f"{name} v{version} rejected", result.items()))


@cli.command()
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@pass_context
def card(ctx: Context, name: str, version: int) -> None:
    """A version's model card (Markdown; the JSON document with --json)."""
    if ctx.as_json:
        render.emit_json(ctx.api.json("GET", f"/models/{name}/versions/{version}/card"))
    else:
        click.echo(ctx.api.text("GET", f"/models/{name}/versions/{version}/card", query={"format": "md"}))


@cli.command()
@click.argument("name")
@pass_context
def audit(ctx: Context, name: str) -> None:
    """The append-only audit trail of a model."""
    events = ctx.api.json("GET", f"/models/{name}/audit")
    _out(
        ctx,
        events,
        lambda: render.table(
            f"{name}: audit trail",
            ["at", "event", "version", "actor", "reason"],
            [[e.get("at"), e.get("event_type"), e.get("version"), e.get("actor"), e.get("reason")] for e in events],
        ),
    )


# ---- monitoring ---------------------------------------------------------------------------------------------------
@cli.group()
def monitoring() -> None:
    """Drift monitoring of a model: show, set, stop."""


def _show_monitoring(ctx: Context, overview: dict[str, Any]) -> None:
    def human() -> None:
        name = overview["model_name"]
        config = {}
        _flatten("", overview.get("config") or {}, config)
        render.pairs(f"{name}: monitoring settings (overrides)", sorted(config.items()) or [("(none)", "stack's")])
        render.pairs(f"{name}: schedule", sorted((overview.get("schedule") or {}).items()) or [("(none)", "")])
        render.pairs(f"{name}: monitor state", sorted((overview.get("state") or {}).items()) or [("(none)", "")])
        render.table(
            f"{name}: latest checks",
            ["at", "decision", "drift share", "drifted", "performance", "retrained", "check"],
            [
                [
                    c.get("created_at"),
                    c.get("decision"),
                    c.get("drift_share"),
                    ", ".join(c.get("drifted_features") or []) or "-",
                    c.get("performance"),
                    c.get("retraining_started"),
                    c.get("check_id"),
                ]
                for c in overview.get("checks") or []
            ],
        )

    _out(ctx, overview, human)


@monitoring.command("show")
@click.argument("name")
@pass_context
def monitoring_show(ctx: Context, name: str) -> None:
    """Settings, the monitor's state and the latest drift checks."""
    _show_monitoring(ctx, ctx.api.json("GET", f"/models/{name}/monitoring"))


def _setting(text: str) -> tuple[list[str], Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise CliError(f"settings are KEY=VALUE (e.g. drift.psi_threshold=0.2), not {text!r}", EXIT_USAGE)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip().split("."), value


@monitoring.command("set")
@click.argument("name")
@click.argument("settings", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--file", "settings_file", metavar="FILE.json", help="a JSON object of settings")
@click.option("--replace", is_flag=True, help="replace the model's settings instead of merging into them")
@pass_context
def monitoring_set(
    ctx: Context, name: str, settings: tuple[str, ...], settings_file: str | None, replace: bool
) -> None:
    """Set a model's monitoring settings, e.g. `drift.psi_threshold=0.2 cooldown_hours=12`."""
    if not settings and not settings_file and not replace:
        raise CliError("nothing to set: give KEY=VALUE pairs, --file, or --replace (to clear)", EXIT_USAGE)
    config: dict[str, Any] = {}
    if not replace:
        config = ctx.api.json("GET", f"/models/{name}/monitoring").get("config") or {}
    if settings_file:
        document = _read_json_file(settings_file, "settings file")
        if not isinstance(document, dict):
            raise CliError(f"settings file {settings_file} must hold a JSON object", EXIT_USAGE)
        config.update(document)
    for text in settings:
        path, value = _setting(text)
        target = config
        for part in path[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise CliError(f"{'.'.join(path)}: {part} is not a group of settings", EXIT_USAGE)
        target[path[-1]] = value
    _show_monitoring(ctx, ctx.api.json("PUT", f"/models/{name}/monitoring", body=config))


@monitoring.command("stop")
@click.argument("name")
@pass_context
def monitoring_stop(ctx: Context, name: str) -> None:
    """Stop the model's scheduled drift checks (settings kept; `monitoring set` turns them back on)."""
    _show_monitoring(ctx, ctx.api.json("DELETE", f"/models/{name}/monitoring"))


@cli.group()
def drift() -> None:
    """Drift reports."""


@drift.command("report")
@click.argument("name")
@click.option("--check-id", help="a given check (default: the latest)")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="write the HTML report there")
@click.option("--open", "open_browser", is_flag=True, help="open the HTML report in a browser")
@pass_context
def drift_report(ctx: Context, name: str, check_id: str | None, output: str | None, open_browser: bool) -> None:
    """The latest drift check of a model; its HTML report with --output / --open."""
    checks = ctx.api.json("GET", f"/models/{name}/monitoring").get("checks") or []
    check = next((c for c in checks if check_id in (None, c.get("check_id"))), None)
    if check is None:
        raise CliError(f"no drift check for {name}" + (f" with id {check_id}" if check_id else ""), EXIT_FAILED)
    path = None
    if output or open_browser:
        html = ctx.api.text("GET", f"/models/{name}/monitoring/report", query={"check_id": check.get("check_id")})
        if output:
            path = Path(output)
        else:
            import tempfile  # noqa: PLC0415

            path = Path(tempfile.mkstemp(prefix=f"drift-{name}-", suffix=".html")[1])
        path.write_text(html)
        check = {**check, "html_file": str(path)}
    _out(ctx, check, lambda: render.pairs(f"{name}: drift check", sorted(check.items())))
    if open_browser and path is not None:
        import webbrowser  # noqa: PLC0415

        if not webbrowser.open(path.resolve().as_uri()):
            click.echo(f"no browser found; the report is {path}", err=True)


# ---- the registry dashboard ----------------------------------------------------------------------------------------
@cli.command()
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="also write the page there")
@click.option("--open", "open_browser", is_flag=True, help="open the dashboard in a browser")
@pass_context
def dashboard(ctx: Context, output: str | None, open_browser: bool) -> None:
    """The registry dashboard: models, versions and their metrics, lineage, approvals, audit, drift, model cards.

    On a stack (--stack) the API renders it to S3 and answers a presigned URL (valid 15 minutes; nothing public to
    secure); with --url, `python -m local up` serves it at /dashboard."""
    api = ctx.api
    if api.signer is None:
        document: dict[str, Any] = {"url": api.url("/dashboard")}
        page = api.text("GET", "/dashboard") if output else None
    else:
        document = api.json("POST", "/dashboard")
        page = _download(document["url"], api.timeout_s) if output else None
    if output and page is not None:
        Path(output).write_text(page, encoding="utf-8")
        document = {**document, "html_file": output}
    _out(ctx, document, lambda: click.echo("\n".join(str(v) for k, v in document.items() if k in ("url", "html_file"))))
    if open_browser:
        import webbrowser  # noqa: PLC0415

        if not webbrowser.open(document["url"]):
            click.echo(f"no browser found; open {document['url']}", err=True)


def _download(url: str, timeout_s: float) -> str:
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.read().decode("utf-8")
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        raise CliError(f"cannot download the dashboard: {getattr(exc, 'reason', exc)}", EXIT_FAILED) from None


# ---- batch scoring --------------------------------------------------------------------------------------------------
@cli.group("batch")
def batch_jobs() -> None:
    """Batch scoring: a CSV in S3 scored with a model's alias (start, show)."""


def _print_batch_job(job: dict[str, Any]) -> None:
    keys = ("job_id", "status", "version", "rows", "scored", "invalid", "output_uri", "errors_uri", "error", "cause")
    items = [(key, job[key]) for key in keys if job.get(key) is not None]
    render.pairs(f"{job.get('model_name', '')}: batch job", items)


@batch_jobs.command("start")
@click.argument("name")
@click.option("--input", "input_uri", required=True, help="s3://bucket/key of a CSV with a header row")
@click.option("--alias", default="production", show_default=True, help="the alias whose version scores")
@click.option("--chunk-bytes", type=int, help="input bytes per chunk (64 KiB to 256 MiB; default 16 MiB)")
@click.option("--no-capture", is_flag=True, help="do not feed the scored rows to the drift checks")
@click.option("--wait", is_flag=True, help="wait for the job to end and show its counts")
@click.option("--max-wait", "max_wait_s", type=float, default=3600.0, show_default=True, help="seconds to wait")
@pass_context
def batch_start(ctx: Context, name: str, input_uri: str, **flags: Any) -> None:
    """Start a BatchTransform job; with --wait, exit 1 unless it SUCCEEDED."""
    body: dict[str, Any] = {"input_uri": input_uri, "alias": flags["alias"], "capture": not flags["no_capture"]}
    if flags["chunk_bytes"] is not None:
        body["chunk_bytes"] = flags["chunk_bytes"]
    job = ctx.api.json("POST", f"/models/{name}/batch-jobs", body=body)
    if flags["wait"]:
        deadline = time.monotonic() + flags["max_wait_s"]
        while job["status"] == "RUNNING":
            if time.monotonic() > deadline:
                raise CliError(
                    f"job {job['job_id']} still RUNNING after {flags['max_wait_s']:.0f} s; "
                    f"follow it with `mlops batch show {name} {job['job_id']}`",
                    EXIT_FAILED,
                )
            time.sleep(0.5)
            job = ctx.api.json("GET", f"/models/{name}/batch-jobs/{job['job_id']}")
    _out(ctx, job, lambda: _print_batch_job(job))
    if flags["wait"] and job["status"] != "SUCCEEDED":
        raise click.exceptions.Exit(EXIT_FAILED)


@batch_jobs.command("show")
@click.argument("name")
@click.argument("job_id")
@pass_context
def batch_show(ctx: Context, name: str, job_id: str) -> None:
    """A batch job's status and, once it ended, its counts and output URIs."""
    job = ctx.api.json("GET", f"/models/{name}/batch-jobs/{job_id}")
    _out(ctx, job, lambda: _print_batch_job(job))


# ---- predictions --------------------------------------------------------------------------------------------------
def _cell(value: str, kind: str) -> Any:
    if value == "":
        return None
    if kind == "numeric":
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
    return value


def _feature_kinds(ctx: Context, name: str) -> dict[str, str]:
    """Feature name -> kind (numeric, categorical, ...) of the production version's schema."""
    model = ctx.api.json("GET", f"/models/{name}")
    production = (model.get("aliases") or {}).get("production")
    if not production:
        raise CliError(f"{name} has no production version to predict with (mlops deploy {name} VERSION)", EXIT_FAILED)
    schema = ctx.api.json("GET", f"/models/{name}/versions/{production['version']}")["schema"]
    return {f["name"]: f["kind"] for f in schema["features"]}


def _read_instances(data_file: str, kinds: dict[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The CSV's rows as predict instances (numbers parsed, empty cells missing) and the columns left out."""
    try:
        text = Path(data_file).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CliError(f"data file not found: {data_file}", EXIT_USAGE) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {data_file}: {exc}", EXIT_USAGE) from None
    reader = csv.DictReader(io.StringIO(text))
    columns = reader.fieldnames or []
    missing = [f for f in kinds if f not in columns]
    if missing:
        raise CliError(f"{data_file} lacks the model's feature(s): {', '.join(missing)}", EXIT_USAGE)
    instances = []
    for number, row in enumerate(reader, start=2):
        try:
            instances.append({f: _cell(row[f] or "", kind) for f, kind in kinds.items()})
        except ValueError as exc:
            raise CliError(f"{data_file} line {number}: {exc}", EXIT_USAGE) from None
    if not instances:
        raise CliError(f"{data_file} has no rows", EXIT_USAGE)
    return instances, [c for c in columns if c not in kinds]


@cli.command()
@click.argument("name")
@click.option("--data", "data_file", required=True, type=click.Path(dir_okay=False), help="CSV with a header row")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="predictions CSV (default: stdout)")
@pass_context
def predict(ctx: Context, name: str, data_file: str, output: str | None) -> None:
    """Score a CSV file with the production model; write a predictions CSV (one row per input row)."""
    kinds = _feature_kinds(ctx, name)
    instances, ignored = _read_instances(data_file, kinds)
    predictions = []
    for offset in range(0, len(instances), PREDICT_BATCH_ROWS):
        batch = instances[offset : offset + PREDICT_BATCH_ROWS]
        columns = {feature: [row[feature] for row in batch] for feature in kinds}  # the columnar request: keys once
        try:
            answer = ctx.api.json("POST", f"/models/{name}/predict", body={"inputs": columns}, with_api_key=True)
        except ApiError as exc:
            raise CliError(f"rows {offset + 1}-{offset + len(batch)}: {exc}", EXIT_FAILED) from None
        predictions.extend(_rows_of_outputs(answer))
    if ignored and not ctx.as_json:
        click.echo(f"ignored column(s) the model does not use: {', '.join(ignored)}", err=True)
    if ctx.as_json:
        render.emit_json(predictions)
        return
    if output:
        with Path(output).open("w", newline="") as stream:
            _write_predictions(stream, predictions)
        click.echo(f"{len(predictions)} predictions written to {output}", err=True)
    else:
        _write_predictions(sys.stdout, predictions)


def _rows_of_outputs(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """A columnar answer as one prediction per row (the shape a row request gets back)."""
    outputs = answer["outputs"]
    by_class = outputs.get("probabilities") or {}
    rows = []
    answered = zip(outputs["inference_id"], outputs["prediction"], strict=True)
    for index, (inference_id, prediction) in enumerate(answered):
        row = {"inference_id": inference_id, "version": answer["version"], "prediction": prediction}
        if by_class:
            row["probabilities"] = {label: values[index] for label, values in by_class.items()}
        rows.append(row)
    return rows


def _write_predictions(stream: Any, predictions: list[dict[str, Any]]) -> None:
    classes = sorted({c for p in predictions for c in (p.get("probabilities") or {})})
    writer = csv.writer(stream)
    writer.writerow(["row", "prediction", *(f"probability_{c}" for c in classes), "version", "inference_id"])
    for index, p in enumerate(predictions):
        probabilities = p.get("probabilities") or {}
        writer.writerow(
            [index, p["prediction"], *(probabilities.get(c, "") for c in classes), p["version"], p["inference_id"]]
        )


# ---- entry point --------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """The console script: every failure is one line on stderr and an exit code, never a traceback."""
    try:
        code = cli.main(args=argv, prog_name="mlops", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.UsageError as exc:
        command = f" ({exc.ctx.command_path})" if exc.ctx else ""
        click.echo(f"error: {exc.format_message()}{command}", err=True)
        return EXIT_USAGE
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        return 130
    except CliError as exc:
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return 130
    return code if isinstance(code, int) else 0
