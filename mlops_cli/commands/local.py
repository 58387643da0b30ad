"""`mlops local`: the embedded local AWS of the repository (moto, the real handlers and state machines) — the same
commands as `python -m local ...` (which stays as an alias), with click's options of the same names.

`local` (and moto, boto3, the domain package) is imported only when one of these verbs runs: `mlops --help` and the
stack verbs never pay for it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from mlops_cli.context import EXIT_USAGE, CliError, Context, pass_context

STATE_DIR_HELP = (
    "where the local AWS keeps its data (default .local-aws/ at the repository's root, $MLOPS_LOCAL_STATE_DIR)"
)


def _local_package() -> None:
    """Make the repository's `local` package importable (an editable install maps only mlops_cli and mlops_client)."""
    root = Path(__file__).resolve().parents[2]
    if (root / "local" / "__init__.py").is_file() and (root / "template.yaml").is_file():
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        return
    raise CliError(
        "`mlops local` runs the repository's embedded AWS: install the command from a checkout (pip install -e .)",
        EXIT_USAGE,
    )


def _run(pick: Callable[[Any], Callable[[argparse.Namespace], int]], **fields: Any) -> None:
    """Run one of local/cli's commands with these fields as its arguments; its usage errors are one line, exit 2."""
    _local_package()
    import local.cli  # noqa: PLC0415 - moto and the domain package, only for these verbs
    from local.cli.common import UsageError, quiet_libraries  # noqa: PLC0415

    quiet_libraries()
    try:
        code = pick(local.cli)(argparse.Namespace(**fields))
    except UsageError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    if code:
        raise click.exceptions.Exit(code)


def _state_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--ephemeral", is_flag=True, help="start empty and keep nothing")(command)
    return click.option("--state-dir", metavar="DIR", help=STATE_DIR_HELP)(command)


@click.group("local")
def local_group() -> None:
    """The embedded local AWS: demo, up, run, reset, aws-server.

    The real state machines and handlers on moto: no Docker, no AWS account.

    \b
    mlops local demo                              # the whole pipeline on the bundled data (ephemeral)
    mlops local run --data churn.csv --target churned --model-name churn
    mlops local up                                # serve the API (and /dashboard) on 127.0.0.1:3000
    mlops local reset                             # clear the state run and up keep (.local-aws/)
    """


@local_group.command("demo")
def local_demo() -> None:
    """Train, gate, register, deploy and monitor the bundled models on an ephemeral stack (about a minute)."""
    _run(lambda cli: cli.training.demo_command)


@local_group.command("up")
@_state_options
@click.option("--port", type=click.IntRange(min=0, max=65535), default=3000, show_default=True, help="0: a free one")
@click.option("--seed", is_flag=True, help="train and deploy the breast-cancer model first")
@click.option("--schedule", is_flag=True, help="fire the drift-check schedule at the stack's rate (off by default)")
@click.option("--serving-runtime", type=click.Choice(["onnx", "sklearn"]), default="onnx", show_default=True)
def local_up(**fields: Any) -> None:
    """Serve the API on 127.0.0.1 until Ctrl-C or SIGTERM (both save the state).

    \b
    mlops local up --seed
    export MLOPS_URL=http://127.0.0.1:3000 MLOPS_API_KEY=<the key it prints>
    mlops models list
    """
    _run(lambda cli: cli.servers.up_command, **fields)


@local_group.command("run")
@click.option("--data", required=True, type=click.Path(dir_okay=False), help="a CSV file with a header row")
@click.option("--target", required=True, help="the column to predict")
@click.option("--model-name", required=True, help="registry name of the model")
@click.option("--task", type=click.Choice(["classification", "regression"]), help="inferred from the target if absent")
@click.option("--candidates", metavar="FILE.json", help='a list of {"estimator": ..., "params": {...}}')
@click.option("--max-trials", type=click.IntRange(min=1), metavar="N", help="search N trials (the default spaces)")
@click.option("--search", metavar="FILE.json", help="the search (spaces, max_trials, halving, ...)")
@click.option("--gate-metric", help="metric the gate compares (default f1 / r2)")
@click.option("--min-score", type=float, help="absolute threshold the winner must meet")
@click.option("--seed", type=int, default=42, show_default=True, help="split and estimator seed")
@click.option("--features", metavar="A,B", help="the only columns to learn from")
@click.option("--exclude", metavar="A,B", help="columns never to learn from")
@click.option("--id-columns", metavar="A,B", help="identifier columns (excluded)")
@click.option("--datetime-columns", metavar="A,B", help="dates in a known form (turned into numeric parts)")
@click.option("--text-columns", metavar="A,B", help="free-text columns (TF-IDF features)")
@click.option("--class-weight", type=click.Choice(["balanced"]), help="weight classes by their inverse frequency")
@click.option("--block-on-leakage", is_flag=True, help="fail the gate when a feature leaks the target")
@click.option("--compute", type=click.Choice(["lambda", "sagemaker"]), help="where the candidates train")
@_state_options
@pass_context
def local_run(ctx: Context, **fields: Any) -> None:
    """Train, gate, register and deploy a model on your CSV (stored by its sha256: a changed file is a new dataset).

    \b
    mlops local run --data churn.csv --target churned --model-name churn --id-columns customer_id
    mlops local run --data churn.csv --target churned --model-name churn --max-trials 20 --json
    """
    _run(lambda cli: cli.training.run_pipeline_command, json=ctx.as_json, **fields)


@local_group.command("reset")
@click.option("--state-dir", metavar="DIR", help=STATE_DIR_HELP)
def local_reset(state_dir: str | None) -> None:
    """Clear the local state that `mlops local run` and `mlops local up` keep."""
    _run(lambda cli: cli.housekeeping.reset_command, state_dir=state_dir)


@local_group.command("aws-server")
@_state_options
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=5000, show_default=True)
@click.option("--example", is_flag=True, help="first run the executions events/ were captured from")
@click.option("--env-vars", metavar="FILE", help="write a sam local --env-vars file for this server there")
@click.option("--endpoint-host", metavar="HOST", help="the server's address as containers see it, for --env-vars")
def local_aws_server(**fields: Any) -> None:
    """The embedded AWS as a moto server (for `sam local invoke` and the AWS CLI) until Ctrl-C or SIGTERM."""
    _run(lambda cli: cli.servers.aws_server_command, **fields)
