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
    result = ctx.client.approve(name, version, reason=reason)
    out(ctx, result, lambda: render.pairs(f"{name} v{version} approved", result.items()))


@click.command()
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--reason", required=True, help="why (required; recorded in the audit trail)")
@pass_context
def reject(ctx: Context, name: str, version: int, reason: str) -> None:
    """Reject a version waiting for approval: its run ends in ApprovalRejected."""
    result = ctx.client.reject(name, version, reason=reason)
    out(ctx, result, lambda: render.pairs(f"{name} v{version} rejected", result.items()))


@click.command()
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@pass_context
def card(ctx: Context, name: str, version: int) -> None:
    """A version's model card (Markdown; the JSON document with --json)."""
    if ctx.as_json:
        render.emit_json(ctx.client.card(name, version))
    else:
        click.echo(ctx.client.card(name, version, format="md"))


@click.command()
@click.argument("name")
@pass_context
def audit(ctx: Context, name: str) -> None:
    """The append-only audit trail of a model."""
    events = ctx.client.audit(name)
    out(
        ctx,
        events,
        lambda: render.table(
            f"{name}: audit trail",
            ["at", "event", "version", "actor", "reason"],
            [[e.get("at"), e.get("event_type"), e.get("version"), e.get("actor"), e.get("reason")] for e in events],
        ),
    )
