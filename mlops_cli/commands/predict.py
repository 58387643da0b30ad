"""`mlops predict`: a CSV file of raw rows scored by a model's alias, one prediction per row out (CSV or JSON lines)."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import click

from mlops_cli import render
from mlops_cli.context import EXIT_FAILED, EXIT_USAGE, CliError, Context, pass_context
from mlops_client.errors import MlopsApiError, NotFound

PREDICT_BATCH_ROWS = 1000  # the predict route's limit per request


def _read_columns(data_file: str, id_column: str | None) -> dict[str, list[str]]:
    """The CSV as columns of text cells (the SDK parses them by the schema's kinds)."""
    try:
        payload = Path(data_file).read_bytes()
    except FileNotFoundError:
        raise CliError(f"data file not found: {data_file}", EXIT_USAGE) from None
    except OSError as exc:
        raise CliError(f"cannot read {data_file}: {exc}", EXIT_USAGE) from None
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = payload.decode("cp1252", errors="strict") if _windows_1252(payload) else None
    if text is None:
        raise CliError(f"{data_file} is neither UTF-8 nor Windows-1252 text: re-save it as UTF-8", EXIT_USAGE)
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    header = next(reader, None)
    if not header:
        raise CliError(f"{data_file} has no header row", EXIT_USAGE)
    rows = [row for row in reader if row]
    if not rows:
        raise CliError(f"{data_file} has no rows", EXIT_USAGE)
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise CliError(f"{data_file} line {number}: {len(row)} cells, the header has {len(header)}", EXIT_USAGE)
    if id_column is not None and id_column not in header:
        raise CliError(f"{data_file} has no id column {id_column!r} (columns: {', '.join(header)})", EXIT_USAGE)
    return {name: [row[i] for row in rows] for i, name in enumerate(header)}


DELIMITERS = (",", ";", "\t", "|")  # the ones training reads (the data room's sniff)


def _delimiter(text: str) -> str:
    """The delimiter training would have read this file with: the one under which the first lines all have the
    header's width of two fields or more, the widest header first, comma on a tie. The same rule as the data room's
    (the command line does not ship the domain package)."""
    lines = [line for line in text[:65536].splitlines()[:50] if line.strip()]
    if len(text) > 65536:
        lines = lines[:-1]  # a line the sample may have cut
    widths = {}
    for delimiter in DELIMITERS:
        counts = {len(row) for row in csv.reader(lines, delimiter=delimiter)}
        if len(counts) == 1 and (width := counts.pop()) >= 2:
            widths[delimiter] = width
    return max(widths, key=lambda d: (widths[d], d == ","), default=",")


def _windows_1252(payload: bytes) -> bool:
    try:
        payload.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True


@click.command()
@click.argument("name")
@click.option("--data", "data_file", required=True, type=click.Path(dir_okay=False), help="CSV with a header row")
@click.option("--alias", default="production", show_default=True, help="the alias whose version scores")
@click.option("--id-column", help="a column carried to the output (e.g. customer_id) instead of the row number")
@click.option(
    "--format", "output_format", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True, help="output"
)
@click.option("--out", "out_file", type=click.Path(dir_okay=False, writable=True), help="write there (default stdout)")
@pass_context
def predict(ctx: Context, name: str, data_file: str, **flags: Any) -> None:
    """Score a CSV of raw rows with a model's alias; one prediction per row.

    The rows are the training table's columns: dates, categories, identifiers, even the target. The version's schema
    picks the columns the model reads (a date column as it is: the endpoint derives its parts; numbers parsed, empty
    cells missing) and leaves out the others, as the endpoint does. Output: the row number (or --id-column),
    prediction, probability_<class>..., version, inference_id (keep it for `mlops feedback`).

    \b
    mlops predict churn --data held_back.csv
    mlops predict churn --data held_back.csv --id-column customer_id --out predictions.csv
    mlops predict churn --data held_back.csv --alias staging --format jsonl
    """
    from mlops_client.inputs import InvalidInput, prepare_columns  # noqa: PLC0415

    alias, id_column = flags["alias"], flags["id_column"]
    columns = _read_columns(data_file, id_column)
    try:
        schema = ctx.client.input_schema(name, alias)
    except NotFound as exc:
        if exc.error == "AliasNotFound" and alias == "production":
            raise CliError(f"{name} has no production version to predict with (mlops deploy {name} VERSION)") from None
        raise
    try:
        prepared, left_out = prepare_columns(columns, schema, id_column=id_column)
    except InvalidInput as exc:
        raise CliError(f"{data_file}: {exc}", EXIT_USAGE) from None
    total = len(next(iter(columns.values())))
    predictions: list[dict[str, Any]] = []
    for offset in range(0, total, PREDICT_BATCH_ROWS):
        batch = {feature: values[offset : offset + PREDICT_BATCH_ROWS] for feature, values in prepared.items()}
        try:
            answer = ctx.client.predict(name, batch, alias=alias, as_is=True)
        except MlopsApiError as exc:
            raise CliError(
                f"rows {offset + 1}-{offset + len(next(iter(batch.values())))}: {exc}", EXIT_FAILED
            ) from None
        predictions.extend(_rows_of_columns(answer))
    key = id_column or "row"
    ids: list[Any] = columns[id_column] if id_column else list(range(total))
    predictions = [{key: ids[i], **p} for i, p in enumerate(predictions)]
    if left_out and not ctx.as_json:
        click.echo(f"ignored column(s) the model does not use: {', '.join(left_out)}", err=True)
    if ctx.as_json:
        render.emit_json(predictions)
        return
    write = _write_jsonl if flags["output_format"] == "jsonl" else _write_csv
    if flags["out_file"]:
        with Path(flags["out_file"]).open("w", newline="") as stream:
            write(stream, predictions, key)
        click.echo(f"{len(predictions)} predictions written to {flags['out_file']}", err=True)
    else:
        write(sys.stdout, predictions, key)


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


def _write_csv(stream: Any, predictions: list[dict[str, Any]], key: str) -> None:
    classes = sorted({c for p in predictions for c in (p.get("probabilities") or {})})
    writer = csv.writer(stream)
    writer.writerow([key, "prediction", *(f"probability_{c}" for c in classes), "version", "inference_id"])
    for p in predictions:
        probabilities = p.get("probabilities") or {}
        writer.writerow(
            [p[key], p["prediction"], *(probabilities.get(c, "") for c in classes), p["version"], p["inference_id"]]
        )


def _write_jsonl(stream: Any, predictions: list[dict[str, Any]], key: str) -> None:
    for p in predictions:
        stream.write(json.dumps(p, default=str) + "\n")
