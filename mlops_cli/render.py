"""Human output: tables and key/value blocks with rich, imported on first use (`--json` and `--help` never pay)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any


def console(stderr: bool = False) -> Any:
    from rich.console import Console  # noqa: PLC0415 - ~60 ms, only for human output

    stream = sys.stderr if stderr else sys.stdout
    # a pipe or a file gets wide tables (rich would wrap them at 80 columns)
    width = None if stream.isatty() or os.environ.get("COLUMNS") else 200
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, str) and len(value) > 20 and value[4:5] == "-" and value[10:11] == "T":
        return value[:19].replace("T", " ")  # ISO timestamps to the second
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    from rich.table import Table  # noqa: PLC0415

    grid = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(fmt(cell) for cell in row))
    console().print(grid)


def pairs(title: str | None, items: Iterable[tuple[str, Any]]) -> None:
    from rich.table import Table  # noqa: PLC0415

    out = console()
    if title:
        out.print(f"[bold]{title}[/bold]")
    grid = Table(show_header=False, box=None, pad_edge=False)
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for key, value in items:
        grid.add_row(key, fmt(value))
    out.print(grid)


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
