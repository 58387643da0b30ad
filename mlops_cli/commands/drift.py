"""`mlops drift report`: a model's latest drift check, and its HTML report."""

from __future__ import annotations

from pathlib import Path

import click

from mlops_cli import render
from mlops_cli.context import EXIT_FAILED, CliError, Context, out, pass_context


@click.group()
def drift() -> None:
    """Drift reports.

    \b
    mlops drift report churn --open
    mlops drift report churn --out report.html
    """


@drift.command("report")
@click.argument("name")
@click.option("--check-id", help="a given check (default: the latest)")
@click.option("--out", "output", type=click.Path(dir_okay=False, writable=True), help="write the HTML report there")
@click.option("--open", "open_browser", is_flag=True, help="open the HTML report in a browser")
@pass_context
def drift_report(ctx: Context, name: str, check_id: str | None, output: str | None, open_browser: bool) -> None:
    """The latest drift check of a model; its HTML report with --out / --open."""
    checks = ctx.client.monitoring(name).checks
    check = next((c for c in checks if check_id in (None, c.get("check_id"))), None)
    if check is None:
        raise CliError(f"no drift check for {name}" + (f" with id {check_id}" if check_id else ""), EXIT_FAILED)
    path = None
    if output or open_browser:
        html = ctx.client.drift_report(name, check.get("check_id"))
        if output:
            path = Path(output)
        else:
            import tempfile  # noqa: PLC0415

            path = Path(tempfile.mkstemp(prefix=f"drift-{name}-", suffix=".html")[1])
        path.write_text(html)
        check = {**check, "html_file": str(path)}
    out(ctx, check, lambda: render.pairs(f"{name}: drift check", sorted(check.items())))
    if open_browser and path is not None:
        import webbrowser  # noqa: PLC0415

        if not webbrowser.open(path.resolve().as_uri()):
            click.echo(f"no browser found; the report is {path}", err=True)
