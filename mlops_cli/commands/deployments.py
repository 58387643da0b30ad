"""`mlops deploy`, `promote`, `rollback`: moving the production alias (or a canary)."""

from __future__ import annotations

from typing import Any

import click

from mlops_cli import render
from mlops_cli.context import Context, out, pass_context


def _show_alias(ctx: Context, result: dict[str, Any], title: str) -> None:
    def human() -> None:
        alias = result.get("alias") if isinstance(result.get("alias"), dict) else result
        render.pairs(title, [(k, v) for k, v in alias.items() if not isinstance(v, dict)])

    out(ctx, result, human)


@click.command()
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--canary-weight", type=click.FloatRange(0, 1), help="serve this share from VERSION (a canary)")
@click.option("--reason", default="", help="recorded in the audit trail")
@pass_context
def deploy(ctx: Context, name: str, version: int, canary_weight: float | None, reason: str) -> None:
    """Smoke-test VERSION and make it production (or a canary with --canary-weight)."""
    alias = ctx.client.deploy(name, version, canary_weight=canary_weight, reason=reason)
    _show_alias(ctx, alias.document, f"{name}: deployed v{version}")


@click.command()
@click.argument("name")
@click.option("--reason", default="", help="recorded in the audit trail")
@pass_context
def promote(ctx: Context, name: str, reason: str) -> None:
    """Make the canary production."""
    _show_alias(ctx, ctx.client.promote(name, reason=reason).document, f"{name}: promoted")


@click.command()
@click.argument("name")
@click.option("--reason", default="", help="recorded in the audit trail")
@pass_context
def rollback(ctx: Context, name: str, reason: str) -> None:
    """Drop the canary, or move production back to its previous version."""
    _show_alias(ctx, ctx.client.rollback(name, reason=reason).document, f"{name}: rolled back")
