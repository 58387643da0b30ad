"""`mlops models`: registered models and their aliases."""

from __future__ import annotations

import click

from mlops_cli import render
from mlops_cli.context import Context, out, pass_context


@click.group()
def models() -> None:
    """Registered models: list, show.

    \b
    mlops models list
    mlops models show churn --json
    """


@models.command("list")
@pass_context
def models_list(ctx: Context) -> None:
    """Models with their latest and production versions."""
    found = [m.document for m in ctx.client.models()]
    out(
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
    model = ctx.client.model(name).document

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

    out(ctx, model, human)
