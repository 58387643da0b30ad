"""`mlops dashboard`: the registry dashboard, served locally or rendered to S3 by the stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mlops_cli.context import EXIT_FAILED, CliError, Context, out, pass_context


@click.command()
@click.option("--out", "output", type=click.Path(dir_okay=False, writable=True), help="also write the page there")
@click.option("--open", "open_browser", is_flag=True, help="open the dashboard in a browser")
@pass_context
def dashboard(ctx: Context, output: str | None, open_browser: bool) -> None:
    """The registry dashboard: models, versions and their metrics, lineage, approvals, audit, drift, model cards.

    On a stack (--stack) the API renders it to S3 and answers a presigned URL (valid 15 minutes; nothing public to
    secure); with --url, `python -m local up` serves it at /dashboard."""
    client = ctx.client
    document: dict[str, Any] = client.dashboard()
    if client.api.signer is None:
        page = client.api.text("GET", "/dashboard") if output else None
    else:
        page = _download(document["url"], client.api.timeout_s) if output else None
    if output and page is not None:
        Path(output).write_text(page, encoding="utf-8")
        document = {**document, "html_file": output}
    out(ctx, document, lambda: click.echo("\n".join(str(v) for k, v in document.items() if k in ("url", "html_file"))))
    if open_browser:
        import webbrowser  # noqa: PLC0415

        if not webbrowser.open(document["url"]):
            click.echo(f"no browser found; open {document['url']}", err=True)


def _download(url: str, timeout_s: float) -> str:
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.read().decode("utf-8")
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        raise CliError(f"cannot download the dashboard: {getattr(exc, 'reason', exc)}", EXIT_FAILED) from None
