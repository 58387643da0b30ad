"""`mlops predict`: a CSV file scored by the production model, a predictions CSV out."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

import click

from mlops_cli import render
from mlops_cli.context import EXIT_FAILED, EXIT_USAGE, CliError, Context, pass_context
from mlops_client.client import PREDICT_BATCH_ROWS
from mlops_client.errors import MlopsApiError


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
    production = ctx.client.model(name).production_version
    if not production:
        raise CliError(f"{name} has no production version to predict with (mlops deploy {name} VERSION)", EXIT_FAILED)
    return {f.name: f.kind for f in ctx.client.version(name, production).schema.features}


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


@click.command()
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
            answer = ctx.client.predict(name, columns)
        except MlopsApiError as exc:
            raise CliError(f"rows {offset + 1}-{offset + len(batch)}: {exc}", EXIT_FAILED) from None
        predictions.extend(_rows_of_columns(answer))
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


def _rows_of_columns(columns: dict[str, Any]) -> list[dict[str, Any]]:
    """The SDK's columnar answer as one prediction per row (the shape a row request gets back)."""
    by_class = columns.get("probabilities") or {}
    rows = []
    for index, inference_id in enumerate(columns["inference_id"]):
        row = {
            "inference_id": inference_id,
            "version": columns["version"][index],
            "prediction": columns["prediction"][index],
        }
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
