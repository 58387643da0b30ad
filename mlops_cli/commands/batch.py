"""`mlops batch`: batch scoring jobs (BatchTransform) started and shown."""

from __future__ import annotations

from typing import Any

import click

from mlops_cli import render
from mlops_cli.context import EXIT_FAILED, CliError, Context, out, pass_context
from mlops_client.errors import WaitTimeout


@click.group("batch")
def batch_jobs() -> None:
    """Batch scoring: a CSV scored with a model's alias (start, show).

    \b
    mlops batch start churn --input ./to_score.csv --wait      # a local file is uploaded first
    mlops batch start churn --input s3://bucket/datasets/to_score.csv --alias staging
    mlops batch show churn JOB_ID --json
    mlops data download s3://.../predictions/churn/JOB_ID/output/ ./scored
    """


def _print_batch_job(job: dict[str, Any]) -> None:
    keys = ("job_id", "status", "version", "rows", "scored", "invalid", "output_uri", "errors_uri", "error", "cause")
    items = [(key, job[key]) for key in keys if job.get(key) is not None]
    render.pairs(f"{job.get('model_name', '')}: batch job", items)


@batch_jobs.command("start")
@click.argument("name")
@click.option(
    "--input",
    "input_uri",
    required=True,
    help="s3://bucket/key of a CSV with a header row, or a local path (uploaded first)",
)
@click.option("--alias", default="production", show_default=True, help="the alias whose version scores")
@click.option("--chunk-bytes", type=int, help="input bytes per chunk (64 KiB to 256 MiB; default 16 MiB)")
@click.option(
    "--output-format",
    type=click.Choice(["csv", "jsonl"]),
    help="the output parts' format (default csv: a header, then a line per scored row)",
)
@click.option("--no-capture", is_flag=True, help="do not feed the scored rows to the drift checks")
@click.option("--wait", is_flag=True, help="wait for the job to end and show its counts")
@click.option("--max-wait", "max_wait_s", type=float, default=3600.0, show_default=True, help="seconds to wait")
@pass_context
def batch_start(ctx: Context, name: str, input_uri: str, **flags: Any) -> None:
    """Start a BatchTransform job; with --wait, exit 1 unless it SUCCEEDED."""
    job = ctx.client.batch(
        name,
        input_uri,
        alias=flags["alias"],
        chunk_bytes=flags["chunk_bytes"],
        capture=not flags["no_capture"],
        output_format=flags["output_format"],
    )
    if flags["wait"]:
        try:
            job.wait(timeout_s=flags["max_wait_s"])
        except WaitTimeout:
            raise CliError(
                f"job {job.job_id} still RUNNING after {flags['max_wait_s']:.0f} s; "
                f"follow it with `mlops batch show {name} {job.job_id}`",
                EXIT_FAILED,
            ) from None
    out(ctx, job.document, lambda: _print_batch_job(job.document))
    if flags["wait"] and not job.succeeded:
        raise click.exceptions.Exit(EXIT_FAILED)


@batch_jobs.command("show")
@click.argument("name")
@click.argument("job_id")
@pass_context
def batch_show(ctx: Context, name: str, job_id: str) -> None:
    """A batch job's status and, once it ended, its counts and output URIs."""
    job = ctx.client.batch_job(name, job_id).document
    out(ctx, job, lambda: _print_batch_job(job))
