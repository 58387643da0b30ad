"""`mlops versions`: a model's versions, one version's record, two versions side by side."""

from __future__ import annotations

from typing import Any

import click

from mlops_cli import render
from mlops_cli.context import Context, flatten, out, pass_context


@click.group()
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

    out(ctx, found, human)


@versions.command("show")
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@pass_context
def versions_show(ctx: Context, name: str, version: int) -> None:
    """A version's full record: metrics, params, lineage, gate, serving."""
    record = ctx.api.json("GET", f"/models/{name}/versions/{version}")
    out(ctx, record, lambda: render.pairs(f"{name} v{version}", _comparable(record).items()))


def _comparable(record: dict[str, Any]) -> dict[str, Any]:
    """The fields of a version worth reading side by side, flattened (metrics.f1, lineage.data_sha256, ...)."""
    flat: dict[str, Any] = {}
    for key in ("status", "estimator", "created_at", "created_by", "run_id", "task", "target"):
        flat[key] = record.get(key)
    for section in ("metrics", "validation_metrics", "params", "lineage"):
        flatten(section, record.get(section) or {}, flat)
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

    out(ctx, document, human)
