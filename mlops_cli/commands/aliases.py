"""`mlops alias` and `mlops tag`: named aliases (staging, shadow, ...) and version tags, set and deleted (audited)."""

from __future__ import annotations

import click

from mlops_cli import render
from mlops_cli.context import Context, out, pass_context


@click.group()
def alias() -> None:
    """Named aliases of a model: set, delete (production: deploy, promote, rollback).

    \b
    mlops alias set churn staging 4 --reason "for the QA team"
    mlops predict churn --data rows.csv --alias staging
    mlops alias delete churn staging
    """


@alias.command("set")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--reason", default="", help="recorded in the audit trail")
@pass_context
def alias_set(ctx: Context, name: str, alias_name: str, version: int, reason: str) -> None:
    """Smoke-test VERSION and point ALIAS at it."""
    answer = ctx.client.set_alias(name, alias_name, version, reason=reason).document
    shown = answer.get("alias") if isinstance(answer.get("alias"), dict) else answer
    out(ctx, answer, lambda: render.pairs(f"{name}: alias {alias_name}", sorted(shown.items())))


@alias.command("delete")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.option("--reason", default="", help="recorded in the audit trail")
@pass_context
def alias_delete(ctx: Context, name: str, alias_name: str, reason: str) -> None:
    """Remove ALIAS (the versions stay)."""
    answer = ctx.client.delete_alias(name, alias_name, reason=reason)
    out(ctx, answer, lambda: click.echo(f"{name}: alias {alias_name} deleted"))


@click.group()
def tag() -> None:
    """Tags of a version: set, delete (`mlops versions list` shows them).

    \b
    mlops tag set churn 4 reviewed yes --reason "checked by risk"
    mlops tag delete churn 4 reviewed
    """


@tag.command("set")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.argument("key")
@click.argument("value")
@click.option("--reason", default="", help="recorded in the audit trail")
@pass_context
def tag_set(ctx: Context, name: str, version: int, key: str, value: str, reason: str) -> None:  # noqa: PLR0917
    """Set tag KEY of VERSION to VALUE."""
    answer = ctx.client.set_tag(name, version, key, value, reason=reason)
    out(ctx, answer, lambda: render.pairs(f"{name} v{version}: tags", sorted((answer.get("tags") or {}).items())))


@tag.command("delete")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@click.argument("key")
@click.option("--reason", default="", help="recorded in the audit trail")
@pass_context
def tag_delete(ctx: Context, name: str, version: int, key: str, reason: str) -> None:
    """Delete tag KEY of VERSION."""
    answer = ctx.client.delete_tag(name, version, key, reason=reason)
    out(ctx, answer, lambda: click.echo(f"{name} v{version}: tag {key} deleted"))
