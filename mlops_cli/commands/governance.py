"""`mlops approve`, `reject`, `card`, `audit`: approvals, model cards and the audit trail."""

from __future__ import annotations

import click

from mlops_cli import render
from mlops_cli.context import Context, out, pass_context


@click.command()
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--reason", default="", help="recorded in the audit trail")
@pass_context
def approve(ctx: Context, name: str, version: int, reason: str) -> None:
    """Approve a version waiting for approval: its run resumes and deploys it."""
    result = ctx.api.json("POST", f"/models/{name}/versions/{version}/approve", body={"reason": reason})
    out(ctx, result, lambda: render.pairs(f"{name} v{version} approved", result.items()))


@click.command()
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--reason", required=True, help="why (required; recorded in the audit trail)")
@pass_context
def reject(ctx: Context, name: str, version: int, reason: str) -> None:
    """Reject a version waiting for approval: its run ends in ApprovalRejected."""
    result = ctx.api.json("POST", f"/models/{name}/versions/{version}/reject", body={"reason": reason})
    out(ctx, result, lambda: render.pairs(f"{name} v{version} rejected", result.items()))


@click.command()
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@pass_context
def card(ctx: Context, name: str, version: int) -> None:
    """A version's model card (Markdown; the JSON document with --json)."""
    if ctx.as_json:
        render.emit_json(ctx.api.json("GET", f"/models/{name}/versions/{version}/card"))
    else:
        click.echo(ctx.api.text("GET", f"/models/{name}/versions/{version}/card", query={"format": "md"}))


@click.command()
@click.argument("name")
@pass_context
def audit(ctx: Context, name: str) -> None:
    """The append-only audit trail of a model."""
    events = ctx.api.json("GET", f"/models/{name}/audit")
    out(
        ctx,
        events,
        lambda: render.table(
            f"{name}: audit trail",
            ["at", "event", "version", "actor", "reason"],
            [[e.get("at"), e.get("event_type"), e.get("version"), e.get("actor"), e.get("reason")] for e in events],
        ),
    )
