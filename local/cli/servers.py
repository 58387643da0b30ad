"""`up` and `aws-server`: the local stack served until Ctrl-C, behind the HTTP gateway (the API, as API Gateway
serves it) or as a moto server (the AWS APIs, for `sam local invoke` and the AWS CLI)."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path
from typing import Any

from local import aws_server
from local.cli import next_steps
from local.cli.common import (
    UsageError,
    print_restored,
    print_result,
    printer,
    started_stack,
    state_arguments,
    stop_on_signals,
    upload,
)
from local.gateway import LocalGateway
from local.runs.datasets import breast_cancer_csv
from local.runs.monitoring import ScheduleTimer, TickResult
from local.runs.training import run_training
from local.stack import LocalStack


def up_command(args: argparse.Namespace) -> int:
    out = sys.stdout
    stop_on_signals()
    with started_stack(args, parameters={"ServingRuntime": args.serving_runtime}) as stack:
        print_restored(stack, out)
        served = sorted(model["model_name"] for model in _models(stack))
        if args.seed:
            dataset_uri = upload(stack, "datasets/breast-cancer.csv", breast_cancer_csv())
            print(f"seeding: TrainingPipeline on {dataset_uri}", file=out, flush=True)
            result = run_training(
                stack,
                {
                    "model_name": "breast-cancer",
                    "dataset_uri": dataset_uri,
                    "target": "target",
                    "requested_by": "local up --seed",
                },
                on_progress=printer(out),
            )
            print_result(result, out)
            served = sorted(model["model_name"] for model in _models(stack))  # the seeded model is one of them now
        try:
            gateway = LocalGateway(stack, port=args.port).start()
            s3_server = aws_server.presigned_urls_server(stack)  # serves the URLs POST /uploads and /downloads sign
        except OSError as exc:
            raise UsageError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}") from None
        example = "breast-cancer" if args.seed else (served[0] if served else None)
        name = example or "NAME"
        timer = ScheduleTimer(stack, lambda tick: _print_tick(tick, out)).start() if args.schedule else None
        drift = (
            f"the schedule fires here every {timer.rate.removeprefix('rate(').rstrip(')')} (--schedule)"
            if timer
            else "the schedule does not fire here (--schedule turns it on)"
        )
        print(
            f"""
Local API on {gateway.url} (Ctrl-C or kill {os.getpid()} to stop)
  dashboard           {gateway.url}/dashboard
  predict (API key)   POST {gateway.url}/models/{name}/predict   header x-api-key: {stack.api_key}
  client API keys     {", ".join(f"{client}: {key}" for client, key in stack.client_api_keys.items())}
  admin (IAM on AWS)  GET  {gateway.url}/models   ·   POST {gateway.url}/pipelines/training   ·   ...
  models              {", ".join(served) or "none yet"}
  bucket {stack.bucket}, table {stack.table}, serving runtime {args.serving_runtime}
  presigned S3 URLs   {s3_server.endpoint} (POST /uploads, POST /downloads: mlops data upload|download)
  drift checks        {drift}; now: mlops --url {gateway.url} monitoring check {name} --wait
{chr(10).join(next_steps.state_lines(stack))}
try:
{chr(10).join(next_steps.try_lines(stack, gateway.url, example))}""",
            file=out,
            flush=True,
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping" + (f"; saving the state to {stack.state_dir}" if stack.state_dir else ""), file=out)
        finally:
            if timer:
                timer.stop()
            gateway.stop()
            s3_server.stop()
    return 0


def _print_tick(tick: TickResult | Exception, out: Any) -> None:
    if isinstance(tick, Exception):
        print(f"drift schedule: the tick failed: {type(tick).__name__}: {tick}", file=out, flush=True)
        return
    checks = ", ".join(f"{(c.output or {}).get('model_name')} {c.end_state}" for c in tick.checks) or "none due"
    print(f"drift schedule: tick as at {tick.plan.get('tick_at')} ({tick.status}): {checks}", file=out, flush=True)


def _models(stack: LocalStack) -> list[dict[str, Any]]:
    return [model.to_document() for model in stack.registry().list_models()]


def aws_server_command(args: argparse.Namespace) -> int:
    from local import aws_server  # noqa: PLC0415 - only this command needs moto's server
    from local.runs import event_files  # noqa: PLC0415

    out = sys.stdout
    stop_on_signals()
    with started_stack(args) as stack:
        print_restored(stack, out)
        if args.example:
            print("running the executions events/ were captured from (example, example-failure, example-approval)")
        try:
            context = aws_server.serving(stack, host=args.host, port=args.port, example=args.example)
            server = context.__enter__()
        except OSError as exc:
            raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
        try:
            endpoint = server.endpoint
            container_endpoint = f"http://{args.endpoint_host}:{server.port}" if args.endpoint_host else endpoint
            if args.env_vars:
                event_files.write_env_file(stack, Path(args.env_vars), container_endpoint)
            env_file = args.env_vars or "events/env.json"
            saved = "; the state is saved" if stack.state_dir else ""
            print(
                f"""
Embedded AWS on {endpoint} (moto server; Ctrl-C or kill {os.getpid()} to stop{saved})
  bucket {stack.bucket}, tables {", ".join(stack.table_names())}
  functions' AWS_ENDPOINT_URL in {env_file}: {container_endpoint}
with Docker (the functions run in containers and reach this server on the host's network):
  sam build && sam local invoke PrepareFunction -e events/prepare/breast_cancer.json \\
      --env-vars {env_file} --docker-network host --region us-east-1
without Docker (the same events and file, each handler in this machine's Python):
  python -m tools.invoke_events --env-vars {env_file} --endpoint {endpoint}
the AWS CLI:
  aws --endpoint-url {endpoint} s3 ls s3://{stack.bucket}/models/""",
                file=out,
                flush=True,
            )
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping" + (f"; saving the state to {stack.state_dir}" if stack.state_dir else ""), file=out)
        finally:
            context.__exit__(None, None, None)
    return 0


def add_aws_server(commands: argparse._SubParsersAction) -> None:
    server = commands.add_parser(
        "aws-server", help="the embedded AWS as a moto server (for sam local invoke, the AWS CLI) until Ctrl-C"
    )
    state_arguments(server)
    server.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    server.add_argument("--port", type=int, default=5000, help="port (default 5000, the one events/env.json names)")
    server.add_argument(
        "--example", action="store_true", help="first run the executions events/ were captured from (same names)"
    )
    server.add_argument("--env-vars", metavar="FILE", help="write a sam local --env-vars file for this server there")
    server.add_argument(
        "--endpoint-host",
        metavar="HOST",
        help="the server's address as containers see it, for --env-vars (e.g. host.docker.internal on Docker Desktop)",
    )
    server.set_defaults(run=aws_server_command)


def add_up(commands: argparse._SubParsersAction) -> None:
    up = commands.add_parser("up", help="serve the API locally (embedded AWS + HTTP gateway) until Ctrl-C")
    state_arguments(up)
    up.add_argument("--port", type=int, default=3000, help="port on 127.0.0.1 (default 3000; 0 picks a free one)")
    up.add_argument("--seed", action="store_true", help="train and deploy the breast-cancer model first")
    up.add_argument(
        "--schedule",
        action="store_true",
        help="fire the drift-check schedule at the stack's DriftCheckTickRate, as EventBridge Scheduler does (off by "
        "default: checks then run only when asked, mlops monitoring check NAME)",
    )
    up.add_argument(
        "--serving-runtime",
        choices=["onnx", "sklearn"],
        default="onnx",
        help="the template's ServingRuntime parameter (default onnx)",
    )
    up.set_defaults(run=up_command)
