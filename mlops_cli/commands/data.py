"""`mlops data` and `mlops feedback`: files in and out of the stack's S3 (presigned URLs: the same for `local up` and a
deployed stack), and ground truth for served predictions."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import click

from mlops_cli import render
from mlops_cli.context import EXIT_USAGE, CliError, Context, out, pass_context


@click.group()
def data() -> None:
    """Files in and out of the stack's S3: upload, download.

    A file uploaded is stored by its sha256; a download takes a dataset or a batch job's predictions.

    \b
    mlops data upload churn.csv                   # -> s3://<bucket>/datasets/<sha256>/churn.csv
    mlops data download s3://<bucket>/predictions/churn/<job>/output/ ./predictions
    Every verb that takes a URI also takes a local path and uploads it first:
    mlops batch start churn --input ./to_score.csv --wait
    """


@data.command("upload")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--uri", help="s3://... in an allowed dataset location (default: datasets/<sha256>/<file name>)")
@pass_context
def data_upload(ctx: Context, path: str, uri: str | None) -> None:
    """Upload a local file; print its s3:// URI (the same bytes always get the same URI and are sent once)."""
    import hashlib  # noqa: PLC0415 - only this verb needs it

    payload = Path(path).read_bytes()
    stored = ctx.client.upload(path, uri=uri)
    document = {"uri": stored, "sha256": hashlib.sha256(payload).hexdigest(), "size_bytes": len(payload)}
    out(ctx, document, lambda: click.echo(stored))


@data.command("download")
@click.argument("uri")
@click.argument("destination", required=False, type=click.Path())
@pass_context
def data_download(ctx: Context, uri: str, destination: str | None) -> None:
    """Download an object (a dataset, a batch job's file) to DESTINATION (default: its name here); a URI ending in /
    (a batch job's output_uri or errors_uri) downloads every object under it into the directory DESTINATION."""
    if not uri.startswith("s3://"):
        raise CliError(f"not an s3:// URI: {uri}", EXIT_USAGE)
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    written = ctx.client.download(uri, destination or name)
    files = sorted(str(p) for p in written.rglob("*") if p.is_file()) if written.is_dir() else [str(written)]
    out(ctx, {"uri": uri, "path": str(written), "files": files}, lambda: click.echo("\n".join(files)))


def _label(cell: Any) -> Any:
    """A label as read from a CSV cell: a number when it reads as one (regression needs numbers), else the text."""
    if not isinstance(cell, str):
        return cell
    try:
        number = float(cell)
    except ValueError:
        return cell
    return int(number) if number.is_integer() else number


def _read_labels(path: str, id_column: str, label_column: str) -> list[dict[str, Any]]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CliError(f"labels file not found: {path}", EXIT_USAGE) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}", EXIT_USAGE) from None
    if path.endswith((".jsonl", ".ndjson", ".json")):
        try:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise CliError(f"{path} is not JSON lines: {exc}", EXIT_USAGE) from None
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
    labels = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or id_column not in row or label_column not in row:
            raise CliError(f"{path} row {number} has no {id_column!r} and {label_column!r}", EXIT_USAGE)
        labels.append({"inference_id": row[id_column], "label": _label(row[label_column])})
    if not labels:
        raise CliError(f"{path} has no rows", EXIT_USAGE)
    return labels


@click.command()
@click.argument("name")
@click.argument("labels_file", required=False, metavar="[FILE.csv|FILE.jsonl]")
@click.option("--inference-id", help="one prediction's id (with --label), instead of a file")
@click.option("--label", "one_label", help="its actual class or value")
@click.option("--id-column", default="inference_id", show_default=True, help="the file's column of inference ids")
@click.option("--label-column", default="label", show_default=True, help="the file's column of actual labels")
@pass_context
def feedback(ctx: Context, name: str, labels_file: str | None, **flags: Any) -> None:
    """Send ground truth for served predictions (by inference_id).

    The inference_id is the one `mlops predict` wrote; the drift checks join the labels with the capture for live
    metrics.

    \b
    mlops predict churn --data rows.csv --out predictions.csv   # has inference_id
    mlops feedback churn outcomes.csv --label-column churned      # inference_id,churned
    mlops feedback churn --inference-id 1a2b...:0 --label yes
    """
    if labels_file is None:
        if not flags["inference_id"] or flags["one_label"] is None:
            raise CliError("give a labels file, or --inference-id and --label", EXIT_USAGE)
        labels = [{"inference_id": flags["inference_id"], "label": _label(flags["one_label"])}]
    else:
        labels = _read_labels(labels_file, flags["id_column"], flags["label_column"])
    answer = ctx.client.feedback(name, labels)
    out(ctx, answer, lambda: render.pairs(f"{name}: feedback", sorted(answer.items())))
