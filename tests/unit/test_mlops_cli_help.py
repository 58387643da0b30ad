"""`mlops --help` and every verb's: examples in each group, the output flags on every verb that prints documents, and
a mistake in a flag after the verb worded as one before it."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from mlops_cli.app import cli, main

SERVERS_AND_DEMO = {"local demo", "local up", "local reset", "local aws-server"}


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, path + " "))
    return found


COMMANDS = _commands(cli)


def test_the_root_help_shows_examples_of_the_local_and_the_stack_verbs():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for example in ("mlops local demo", "mlops local up", "mlops models list --json", "mlops predict churn"):
        assert example in result.output


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[path for path, _ in COMMANDS])
def test_every_verb_has_help_and_every_group_examples(path, command):
    result = CliRunner().invoke(cli, [*path.split(), "--help"])
    assert result.exit_code == 0, result.output
    if isinstance(command, click.Group):
        assert re.search(rf"^  mlops .*{path.split()[-1]}", result.output, re.MULTILINE), result.output
    elif path not in SERVERS_AND_DEMO:
        assert "--json" in result.output and "--output [json|table]" in result.output, path


def test_an_unknown_output_format_after_the_verb_is_a_usage_error(capsys):
    assert main(["models", "list", "--output", "yaml"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Invalid value for '--output'") and "'yaml'" in err and "(mlops models list)" in err
