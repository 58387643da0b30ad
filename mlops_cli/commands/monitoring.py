"""`mlops monitoring`: a model's drift-monitoring settings, its monitor's state and latest checks."""

from __future__ import annotations

import json
from typing import Any

import click

from mlops_cli import render
from mlops_cli.context import EXIT_FAILED, EXIT_USAGE, CliError, Context, flatten, out, pass_context, read_json_file


@click.group()
def monitoring() -> None:
    """Drift monitoring of a model: show, set, stop.

    \b
    mlops monitoring show churn
    mlops monitoring set churn drift.psi_threshold=0.2 cooldown_hours=12
    mlops monitoring stop churn
    """


def _show_monitoring(ctx: Context, overview: dict[str, Any]) -> None:
    def human() -> None:
        name = overview["model_name"]
        config = {}
        flatten("", overview.get("config") or {}, config)
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

    out(ctx, overview, human)


@monitoring.command("show")
@click.argument("name")
@pass_context
def monitoring_show(ctx: Context, name: str) -> None:
    """Settings, the monitor's state and the latest drift checks."""
    _show_monitoring(ctx, ctx.client.monitoring(name).document)


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
        config = ctx.client.monitoring(name).config
    if settings_file:
        document = read_json_file(settings_file, "settings file")
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
    _show_monitoring(ctx, ctx.client.monitoring(name, config).document)


@monitoring.command("stop")
@click.argument("name")
@pass_context
def monitoring_stop(ctx: Context, name: str) -> None:
    """Stop the model's scheduled drift checks (settings kept; `monitoring set` turns them back on)."""
    _show_monitoring(ctx, ctx.client.monitoring(name, stop=True).document)


@monitoring.command("check")
@click.argument("name")
@click.option("--wait", is_flag=True, help="wait for the check to end and show its result")
@click.option("--reason", default="", help="why the check is asked for (audited)")
@pass_context
def monitoring_check(ctx: Context, name: str, wait: bool, reason: str) -> None:
    """Run the model's drift check now (the scheduled check: same window, same cooldown), e.g.
    `mlops monitoring check churn --wait`; then `mlops drift report NAME --open`."""
    check = ctx.client.check_monitoring(name, wait=wait, reason=reason)
    document = check.document
    summary = check.check
    rows = [("execution", check.execution_id), ("status", check.status), ("started now", check.started)]
    rows += [
        (f"check {key}", summary.get(key)) for key in ("check_id", "status", "drift_confirmed", "decision", "html_uri")
    ]
    out(ctx, document, lambda: render.pairs(f"{name}: drift check", [(k, v) for k, v in rows if v is not None]))
    if wait and not check.succeeded:
        raise CliError(f"the drift check {check.status}: {check.error}: {document.get('cause', '')}", EXIT_FAILED)
