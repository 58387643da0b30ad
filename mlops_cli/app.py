"""`mlops`: the one command line: the embedded local AWS (`mlops local demo|up|run|reset|aws-server`) and the verbs of
a deployed stack (`--stack NAME`, SigV4) or of `mlops local up` (`--url`).

Every stack verb is one or a few calls of the SDK's `Client` (mlops_client, over the HTTP API of docs/api.md). Human
tables by default, `--json` / `--output json` (before or after the verb) for scripts; errors are one line on stderr with
exit code 1 (refused, failed), 2 (usage) or 3 (unreachable, no credentials).
"""

from __future__ import annotations

from typing import Any

import click

from mlops_cli.commands import (
    aliases,
    batch,
    dashboard,
    data,
    deployments,
    drift,
    governance,
    local,
    models,
    monitoring,
    predict,
    runs,
    versions,
)
from mlops_cli.context import (
    EXIT_FAILED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    OUTPUT_HELP,
    CliError,
    Context,
    output_options,
)
from mlops_client.errors import ConfigurationError, InvalidInput, MlopsError, Unreachable

EXAMPLES = """Examples:

\b
  mlops local demo                                   # the whole pipeline on the bundled data, about a minute
  mlops local up --seed                              # serve the API on :3000 (prints the key, the dashboard)
  export MLOPS_URL=http://127.0.0.1:3000 MLOPS_API_KEY=local-...
  mlops train --dataset-uri ./churn.csv --target churned --model-name churn
  mlops models list --json
  mlops predict churn --data held_back.csv --id-column customer_id --out predictions.csv
  mlops batch start churn --input ./to_score.csv --wait
  mlops --stack mlops-dev versions list churn        # a deployed stack, SigV4-signed

Every verb has --help with its own examples. Exit codes: 1 refused or failed, 2 usage, 3 unreachable."""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110}, epilog=EXAMPLES)
@click.option("--url", envvar="MLOPS_URL", help="API of `mlops local up`, e.g. http://127.0.0.1:3000 [MLOPS_URL]")
@click.option("--stack", envvar="MLOPS_STACK", help="CloudFormation stack name: its ApiUrl, SigV4-signed [MLOPS_STACK]")
@click.option("--region", envvar="AWS_REGION", help="the stack's region (default: botocore's configuration)")
@click.option("--profile", envvar="AWS_PROFILE", help="AWS profile for the credentials")
@click.option("--api-key", envvar="MLOPS_API_KEY", help="predict route key (a stack's is read from ApiKeyId)")
@click.option(
    "--as-user",
    envvar="MLOPS_AS_USER",
    help="with --url only: act as this IAM user name (e.g. an approver other than the requester); "
    "on AWS your credentials are the identity [MLOPS_AS_USER]",
)
@click.option("--json", "as_json", is_flag=True, help="as --output json (here or after the verb)")
@click.option("--output", type=click.Choice(["json", "table"]), help=OUTPUT_HELP + " (here or after the verb)")
@click.option("--timeout-s", type=click.FloatRange(min=1), default=60.0, show_default=True, help="per request")
@click.pass_context
def cli(ctx: click.Context, **options: Any) -> None:
    """Train, inspect, deploy, govern and monitor models of a serverless MLOps stack, deployed or local."""
    ctx.obj = Context(**options)


# one module per verb group (mlops_cli/commands/); `mlops --help` lists them by name, whatever the order here
for command in (
    runs.train,
    runs.runs,
    models.models,
    versions.versions,
    deployments.deploy,
    deployments.promote,
    deployments.rollback,
    governance.approve,
    governance.reject,
    governance.card,
    governance.audit,
    monitoring.monitoring,
    drift.drift,
    dashboard.dashboard,
    batch.batch_jobs,
    predict.predict,
    aliases.alias,
    aliases.tag,
    data.data,
    data.feedback,
    local.local_group,
):
    cli.add_command(command)

# the verbs that print documents take --json / --output after them too (the servers and demo print progress only)
_NO_OUTPUT = {local.local_demo, local.local_up, local.local_reset, local.local_aws_server}


def _leaves(group: click.Group) -> list[click.Command]:
    found = []
    for command in group.commands.values():
        found.extend(_leaves(command) if isinstance(command, click.Group) else [command])
    return found


for leaf in _leaves(cli):
    if leaf not in _NO_OUTPUT:
        output_options(leaf)


def exit_code_of(exc: Exception) -> int:
    """The CLI's own failures carry their code; the SDK's are a refusal or a failure (1), a usage mistake (2), or no
    answer (3)."""
    if isinstance(exc, CliError):
        return exc.exit_code
    if isinstance(exc, ConfigurationError | InvalidInput):
        return EXIT_USAGE
    return EXIT_UNREACHABLE if isinstance(exc, Unreachable) else EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    """The console script: every failure is one line on stderr and an exit code, never a traceback."""
    try:
        code = cli.main(args=argv, prog_name="mlops", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.UsageError as exc:
        command = f" ({exc.ctx.command_path})" if exc.ctx else ""
        click.echo(f"error: {exc.format_message()}{command}", err=True)
        return EXIT_USAGE
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        return 130
    except (CliError, MlopsError) as exc:
        click.echo(f"error: {exc}", err=True)
        return exit_code_of(exc)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return 130
    return code if isinstance(code, int) else 0
