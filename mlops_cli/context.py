"""What every verb shares: the context it runs in (its options and the SDK's client, made on first use), its output
(JSON with --json, else the human form), the JSON files it reads, and the exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlops_cli import render

if TYPE_CHECKING:
    from mlops_client import Client

__all__ = [
    "EXIT_FAILED",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "CliError",
    "Context",
    "flatten",
    "out",
    "output_options",
    "pass_context",
]

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
        self.as_json: bool = options.pop("as_json") or options.pop("output", None) == "json"
        options.pop("output", None)
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        """The SDK's client of the API the options name (every verb is one or a few of its calls)."""
        if self._client is None:
            from mlops_client import Client  # noqa: PLC0415 - `mlops --help` never pays for the HTTP stack

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


def flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    """``{"a": {"b": 1}}`` as ``{"a.b": 1}`` under ``prefix``."""
    from mlops_client.client import flatten as flatten_fields  # noqa: PLC0415

    flatten_fields(prefix, value, into)


def _output_chosen(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """``--json`` / ``--output json|table`` after the verb: the same switch as before it (the last one given wins)."""
    if value is None or value is False:
        return
    state = ctx.find_object(Context)
    if state is not None:
        state.as_json = value is True or value == "json"


OUTPUT_HELP = "print JSON documents (json) or tables (table, the default)"


def output_options(command: click.Command) -> click.Command:
    """Give a verb the root's --json and --output, so they may come before or after it (`mlops models list --json`)."""
    names = {option for param in command.params for option in getattr(param, "opts", [])}
    if "--json" not in names:
        command.params.append(
            click.Option(
                ["--json", "output_json_after_verb"],  # a name no verb's own parameter has
                is_flag=True,
                expose_value=False,
                callback=_output_chosen,
                help="as --output json",
            )
        )
    if "--output" not in names:
        command.params.append(
            click.Option(
                ["--output", "output_format_after_verb"],
                type=click.Choice(["json", "table"]),
                expose_value=False,
                callback=_output_chosen,
                help=OUTPUT_HELP,
            )
        )
    return command


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
