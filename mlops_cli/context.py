"""What every verb shares: the context it runs in (its options and the API, made on first use), its output
(JSON with --json, else the human form) and the JSON files it reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from mlops_cli import render
from mlops_cli.transport import EXIT_USAGE, Api, CliError, local_api, stack_api


class Context:
    def __init__(self, **options: Any) -> None:
        self.options = options
        self.as_json: bool = options["as_json"]
        self._api: Api | None = None

    @property
    def api(self) -> Api:
        if self._api is None:
            url, stack = self.options["url"], self.options["stack"]
            if url and stack:
                raise CliError("give either --url or --stack, not both", EXIT_USAGE)
            timeout_s = self.options["timeout_s"]
            if stack:
                self._api = stack_api(
                    stack, self.options["region"], self.options["profile"], self.options["api_key"], timeout_s
                )
            elif url:
                self._api = local_api(url, self.options["api_key"], timeout_s, self.options["as_user"])
            else:
                raise CliError(
                    "no API: pass --stack NAME (deployed) or --url http://127.0.0.1:3000 (python -m local up), "
                    "or set MLOPS_STACK / MLOPS_URL",
                    EXIT_USAGE,
                )
        return self._api


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


def flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            flatten(f"{prefix}.{key}" if prefix else str(key), inner, into)
    else:
        into[prefix] = value
