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


@pytest.mark.parametrize(
    ("verb", "argparse_command", "adder"), [("run", "run-pipeline", "add_run_pipeline"), ("up", "up", "add_up")]
)
def test_mlops_local_verbs_take_every_option_of_python_m_local(verb, argparse_command, adder):
    # Given the argparse command a `mlops local` verb hands its fields to, by name
    import argparse

    from local.cli import servers, training

    parser = argparse.ArgumentParser()
    getattr(training if hasattr(training, adder) else servers, adder)(parser.add_subparsers())
    command = parser._subparsers._group_actions[0].choices[argparse_command]
    argparse_fields = {action.dest for action in command._actions if action.dest != "help"}
    # When the click command's parameters are read
    params = cli.commands["local"].commands[verb].params
    click_fields = {parameter.name for parameter in params if not parameter.name.endswith("_after_verb")}
    # Then neither has a field the other lacks (a missing one was an AttributeError at run time); --json is the root's
    assert argparse_fields - {"json", "run"} == click_fields - {"json"}


PYTHON_TEXT = ("Traceback", "object has no attribute", "not supported between", "NoneType", "Error(", "^[")


def _typed_wrong_cases() -> list[tuple[str, list[str]]]:
    """Every verb's numeric and choice parameters, each given a value of the wrong type (the other arguments
    placeholders): the parse fails before the verb runs, so nothing is sent anywhere."""
    cases = []
    for path, command in COMMANDS:
        if isinstance(command, click.Group) or path.startswith("local"):
            continue
        arguments = [p for p in command.params if isinstance(p, click.Argument)]
        numbers_and_choices = (click.types.IntParamType, click.types.FloatParamType, click.Choice)
        for parameter in (p for p in command.params if isinstance(p.type, numbers_and_choices)):
            argv = [*path.split()]
            for argument in arguments:
                argv.append("not-a-number" if argument is parameter else "1")
            if isinstance(parameter, click.Option):
                flag = next(o for o in parameter.opts if o.startswith("--"))
                argv += [flag, "not-a-number"]
            cases.append((f"{path} {parameter.name}", argv))
    return cases


WRONG = _typed_wrong_cases()


@pytest.mark.parametrize(("case", "argv"), WRONG, ids=[case for case, _ in WRONG])
def test_a_value_of_the_wrong_type_is_a_usage_error_in_words(case, argv, capsys):
    # When a verb is given a value of the wrong type for a number or a choice
    code = main(argv)
    err = capsys.readouterr().err
    # Then it is a one-line usage error naming the parameter, with no Python exception text
    assert code == 2, (case, err)
    assert err.startswith("error: "), err
    assert not any(text in err for text in PYTHON_TEXT), err


def test_the_wrong_type_sweep_covers_the_numeric_verbs():
    swept = {case.rsplit(" ", 1)[0] for case, _ in WRONG}
    assert {"predict", "batch start", "versions show"} <= swept, sorted(swept)
