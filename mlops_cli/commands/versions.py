"""`mlops versions`: a model's versions, one version's record, two versions side by side."""

from __future__ import annotations

import click

from mlops_cli import render
from mlops_cli.context import EXIT_FAILED, Context, out, pass_context


def comparable_fields(record: dict) -> dict:
    from mlops_client.client import comparable_fields as fields  # noqa: PLC0415 - the HTTP stack only when run

    return fields(record)


@click.group()
def versions() -> None:
    """Versions of a model: list, show, compare, reproduce.

    \b
    mlops versions list churn
    mlops versions show churn 3 --json
    mlops versions compare churn 2 3
    mlops versions reproduce churn 2
    """


@versions.command("list")
@click.argument("name")
@pass_context
def versions_list(ctx: Context, name: str) -> None:
    """Every version of a model with its status and holdout metrics."""
    found = [v.document for v in ctx.client.versions(name)]
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

    out(ctx, found, human)


@versions.command("show")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@pass_context
def versions_show(ctx: Context, name: str, version: int) -> None:
    """A version's full record: metrics, params, lineage, gate, serving."""
    record = ctx.client.version(name, version).document
    out(ctx, record, lambda: render.pairs(f"{name} v{version}", comparable_fields(record).items()))


@versions.command("compare")
@click.argument("name")
@click.argument("version_a", type=click.IntRange(min=1))
@click.argument("version_b", type=click.IntRange(min=1))
@click.option("--all", "show_all", is_flag=True, help="also show the fields that are the same")
@pass_context
def versions_compare(ctx: Context, name: str, version_a: int, version_b: int, show_all: bool) -> None:
    """Metrics, params, data and lineage of two versions side by side."""
    document = ctx.client.compare(name, version_a, version_b).document
    rows = document["fields"]

    def human() -> None:
        shown = [r for r in rows if show_all or not r["same"]]
        render.table(
            f"{name}: v{version_a} vs v{version_b}" + ("" if show_all else " (differences; --all for every field)"),
            ["field", f"v{version_a}", f"v{version_b}", "b − a"],
            [[r["field"], r["a"], r["b"], r.get("difference", "")] for r in shown],
        )

    out(ctx, document, human)


@versions.command("reproduce")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@pass_context
def versions_reproduce(ctx: Context, name: str, version: int) -> None:
    """Retrain a version from its lineage (the same data by sha256, split, parameters) and compare metrics and
    predictions; exit 1 unless it reproduced.

    \b
    mlops versions reproduce churn 3
    mlops versions reproduce churn 3 --json | jq .metric_differences
    """
    report = ctx.client.reproduce(name, version)

    def human() -> None:
        verdict = "REPRODUCED" if report.get("reproduced") else f"NOT REPRODUCED: {report.get('reason')}"
        keys = ("data_matches", "split_matches", "metrics_match", "predictions_match", "prediction_agreement")
        render.pairs(f"{name} v{version}: {verdict}", [(k, report[k]) for k in (*keys, "report_uri") if k in report])

    out(ctx, report, human)
    if not report.get("reproduced"):
        raise click.exceptions.Exit(EXIT_FAILED)
