"""What every verb shares: the context it runs in (its options and the SDK's client, made on first use), its output
(JSON with --json, else the human form), the JSON files it reads, and the exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from mlops_cli import render
from mlops_client import Client
from mlops_client.client import flatten

__all__ = ["EXIT_FAILED", "EXIT_UNREACHABLE", "EXIT_USAGE", "CliError", "Context", "flatten", "out", "pass_context"]

EXIT_FAILED = 1  # the API refused the request, or the run failed
EXIT_USAGE = 2  # a command-line mistake: missing option, unreadable file
EXIT_UNREACHABLE = 3  # no API at that address, no credentials, no such stack


class CliError(Exception):
    """A failure reported in one line with an exit code (no traceback)."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Context:
    def __init__(self, **options: Any) -> None:
        self.options = options
        self.as_json: bool = options["as_json"]
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        """The SDK's client of the API the options name (every verb is one or a few of its calls)."""
        if self._client is None:
            options = self.options
            self._client = Client(
                options["url"],
                stack=options["stack"],
                region=options["region"],
                profile=options["profile"],
                api_key=options["api_key"],
                timeout_s=options["timeout_s"],
                as_user=options["as_user"],
            )
        return self._client


pass_context = click.make_pass_decorator(Context)


def out(ctx: Context, document: Any, human: Any) -> None:
    if ctx.as_json:
        render.emit_json(document)
    else:
        human()


def read_json_file(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CliError(f"{what} not found: {path}", EXIT_USAGE) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CliError(f"{what} {path} is not valid JSON: {exc}", EXIT_USAGE) from None
