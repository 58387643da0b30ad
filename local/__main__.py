"""Command line of the embedded local AWS.

python -m local demo
python -m local run-pipeline --data PATH.csv --target COLUMN --model-name NAME [--task ...] [--exclude A,B] [--json]
python -m local up [--seed] [--port 3000]
python -m local reset
python -m local aws-server [--port 5000] [--example] [--env-vars FILE]   (the embedded AWS for `sam local invoke`)

run-pipeline and up keep the local AWS's data in a state directory (.local-aws/ at the repository's root, or
$MLOPS_LOCAL_STATE_DIR, or --state-dir) between commands; --ephemeral starts an empty one that is not saved.
demo, write-events and the tests always use an ephemeral stack.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any

from local import state
from local.datasets import breast_cancer_csv, diabetes_csv
from local.event_files import write_events
from local.gateway import LocalGateway
from local.monitoring_runs import demo_monitoring
from local.stack import LocalStack
from local.template import ROOT
from local.training_runs import PipelineResult, ProgressEvent, run_training

EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit code 2, no traceback."""


def _quiet_libraries() -> None:
    # moto logs every failed state at ERROR with its internals; the CLI reports failures itself.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    # A handler that answers without adding a metric still flushes its cold-start metric: not news for a user.
    warnings.filterwarnings("ignore", message="No application metrics to publish")


def _printer(stream: Any) -> Any:
    def show(event: ProgressEvent) -> None:
        if event.kind == "entered":
            print(f"  {event.elapsed_s:7.2f}s  → {event.state}", file=stream, flush=True)
        elif event.kind == "exited":
            detail = f"  {event.detail}" if event.detail else ""
            print(f"  {event.elapsed_s:7.2f}s  ✓ {event.state}{detail}", file=stream, flush=True)
        else:
            print(f"  {event.elapsed_s:7.2f}s  ✗ {event.state}: {event.detail}", file=stream, flush=True)

    return show


def _format_metrics(metrics: dict[str, float] | None) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in (metrics or {}).items()) or "-"


def _print_result(result: PipelineResult, stream: Any) -> None:
    summary = result.summary()
    print(f"\n  execution   {result.status} at state {result.end_state} in {result.duration_s:.1f} s", file=stream)
    if result.status != "SUCCEEDED":
        step = f" ({summary['step_error']})" if summary["step_error"] != summary["error"] else ""
        print(f"  error       {summary['error']}{step}: {summary['error_message']}", file=stream)
        return
    for row in summary["leaderboard"] or []:
        if row["status"] == "trained":
            scores = _format_metrics(row["validation_metrics"])
        else:
            scores = f"failed: {row.get('error')}"
        print(f"  candidate   {row['estimator']:<24} validation: {scores}", file=stream)
    print(f"  winner      {summary['winner']} (trained on {summary['compute']})", file=stream)
    print(f"  holdout     {_format_metrics(summary['metrics'])}", file=stream)
    gate = summary["gate"] or {}
    print(f"  gate        {gate.get('decision', '-').upper()}", file=stream)
    for reason in gate.get("reasons", []):
        print(f"                - {reason}", file=stream)
    print(f"  registered  {result.model_name} v{summary['version']} ({summary['version_status']})", file=stream)
    print(
        f"  deployed    {'yes: production -> v' + str(summary['version']) if summary['deployed'] else 'no'}",
        file=stream,
    )
    print(f"  artifact    {summary['artifact_uri']}", file=stream)
    print(f"  baseline    {summary['baseline_uri']}", file=stream)


def _read_candidates(path: str | None) -> list[dict[str, Any]] | None:
    if path is None:
        return None
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"candidates file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"candidates file {path} is not valid JSON: {exc}") from None
    candidates = document.get("candidates") if isinstance(document, dict) else document
    if not isinstance(candidates, list):
        raise UsageError(f"candidates file {path} must hold a JSON list of {{estimator, params}} objects")
    return candidates


def _read_search(path: str | None, max_trials: int | None, *, candidates_given: bool) -> dict[str, Any] | None:
    """The request's search: the file's (a search object, or {"search": {...}}), --max-trials over it."""
    search: dict[str, Any] | None = None
    if path is not None:
        try:
            document = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise UsageError(f"search file not found: {path}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"search file {path} is not valid JSON: {exc}") from None
        search = document.get("search", document) if isinstance(document, dict) else None
        if not isinstance(search, dict):
            raise UsageError(f"search file {path} must hold a JSON object (max_trials, spaces, halving, ...)")
    if max_trials is not None:
        search = {**(search or {}), "max_trials": max_trials}
    if search is not None and candidates_given:
        raise UsageError("--candidates lists the models to train; --search/--max-trials samples them: give one")
    return search


def _read_dataset(path: str) -> bytes:
    file = Path(path)
    if not file.exists():
        raise UsageError(f"dataset file not found: {path}")
    if not file.is_file():
        raise UsageError(f"dataset path is not a file: {path}")
    try:
        return file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def _upload(stack: LocalStack, key: str, payload: bytes) -> str:
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=payload)
    return f"s3://{stack.bucket}/{key}"


def _column_list(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def run_pipeline_command(args: argparse.Namespace) -> int:
    payload = _read_dataset(args.data)
    candidates, search = (
        _read_candidates(args.candidates),
        _read_search(args.search, args.max_trials, candidates_given=args.candidates is not None),
    )
    gate: dict[str, Any] = {}
    if args.gate_metric:
        gate["metric"] = args.gate_metric
    if args.min_score is not None:
        gate["min_score"] = args.min_score
    if args.block_on_leakage:
        gate["block_on_leakage"] = True
    out = sys.stderr if args.json else sys.stdout
    with _stack(args) as stack:
        _print_restored(stack, out)
        request: dict[str, Any] = {
            "model_name": args.model_name,
            "dataset_uri": _upload(stack, f"datasets/{Path(args.data).name}", payload),
            "target": args.target,
            "gate": gate,
            "split": {"seed": args.seed},
            "requested_by": "cli:run-pipeline",
        }
        if args.task:
            request["task"] = args.task
        for field, value in (("candidates", candidates), ("search", search), ("compute", args.compute or None)):
            if value is not None:
                request[field] = value
        for field in ("features", "exclude", "id_columns", "datetime_columns"):
            if getattr(args, field):
                request[field] = _column_list(getattr(args, field))
        if args.class_weight:
            request["class_weight"] = args.class_weight
        if not args.json:
            print(f"TrainingPipeline on {args.data} (target {args.target!r}, model {args.model_name!r})", file=out)
        result = run_training(stack, request, on_progress=None if args.json else _printer(out))
        if args.json:
            print(json.dumps(result.summary(), indent=2))
        else:
            _print_result(result, out)
    return 0 if result.status == "SUCCEEDED" else EXIT_FAILED


def demo_command(args: argparse.Namespace) -> int:
    out = sys.stdout
    print("Serverless MLOps demo: the real TrainingPipeline state machine on an embedded AWS (moto)\n", file=out)
    # capture is read as soon as it lands (nothing buffers it locally) and a deployment is served at once
    with LocalStack(parameters={"CaptureSettleSeconds": "0", "AliasRefreshSeconds": "0"}) as stack:
        print(f"  stack       bucket {stack.bucket}, table {stack.table}", file=out)
        print(f"              functions {', '.join(sorted(stack.function_names))}", file=out)
        print(f"              state machine {stack.training_pipeline_arn}", file=out)
        print(f"              (its deployments run in {stack.rollout_arn})", file=out)
        dataset_uri = _upload(stack, "datasets/breast-cancer.csv", breast_cancer_csv())
        print(f"  dataset     scikit-learn breast cancer (569 rows, 30 features) at {dataset_uri}\n", file=out)
        base = {
            "model_name": "breast-cancer",
            "dataset_uri": dataset_uri,
            "target": "target",
            "description": "Classify a breast mass as benign (1) or malignant (0) from digitised FNA features.",
            "gate": {"metric": "f1", "min_score": 0.9, "min_improvement": 0.001},
            "requested_by": "make demo",
        }
        runs = [
            (
                "Run 1: first training, no champion yet",
                {
                    "candidates": [
                        {"estimator": "logistic_regression", "params": {"C": 1.0, "max_iter": 2000}},
                        {"estimator": "random_forest", "params": {"n_estimators": 200, "min_samples_leaf": 2}},
                        {"estimator": "hist_gradient_boosting", "params": {"max_iter": 200, "learning_rate": 0.1}},
                    ]
                },
            ),
            (
                "Run 2: a challenger gated against the production champion",
                {
                    "candidates": [
                        {"estimator": "k_neighbors", "params": {"n_neighbors": 7}},
                        {"estimator": "extra_trees", "params": {"n_estimators": 200}},
                        {"estimator": "decision_tree", "params": {"max_depth": 5}},
                    ]
                },
            ),
        ]
        results = []
        for title, overrides in runs:
            print(title, file=out)
            result = run_training(stack, {**base, **overrides}, on_progress=_printer(out))
            _print_result(result, out)
            print(file=out)
            results.append(result)
        _print_registry(stack, "breast-cancer", out)
        print(file=out)
        print(
            "Run 3: a second model (diabetes progression, regression), deployed: monitored with no stack change",
            file=out,
        )
        second = run_training(
            stack,
            {
                "model_name": "diabetes",
                "dataset_uri": _upload(stack, "datasets/diabetes.csv", diabetes_csv()),
                "target": "progression",
                "candidates": [{"estimator": "ridge", "params": {"alpha": 1.0}}],
                "requested_by": "make demo",
            },
            on_progress=_printer(out),
        )
        _print_result(second, out)
        results.append(second)
        print(file=out)
        monitored = demo_monitoring(stack, "breast-cancer", breast_cancer_csv(), out, _printer(out))
    return 0 if monitored and all(r.status == "SUCCEEDED" for r in results) else EXIT_FAILED


def _print_registry(stack: LocalStack, model_name: str, out: Any) -> None:
    registry = stack.registry()
    print(f"Registry of {model_name}", file=out)
    for record in registry.list_versions(model_name):
        metrics = record.metrics
        print(
            f"  v{record.version:<3} {record.status:<10} {record.estimator:<24} "
            f"f1 {metrics['f1']:.4f}  roc_auc {metrics['roc_auc']:.4f}  data {record.lineage.data_sha256[:12]}",
            file=out,
        )
    for alias in registry.list_aliases(model_name):
        previous = alias.previous_version
        print(
            f"  alias {alias.alias} -> v{alias.version} (previous: {'v' + str(previous) if previous else '-'})",
            file=out,
        )
    print("  audit trail", file=out)
    for event in registry.list_events(model_name):
        print(f"    {event.at}  {event.event_type:<18} {event.actor}: {event.reason[:90]}", file=out)
    print(
        f"  artifacts   s3://{stack.bucket}/models/{model_name}/<sha256>.joblib, baselines/{model_name}/, runs/",
        file=out,
    )


def _state_dir(args: argparse.Namespace) -> Path | None:
    if getattr(args, "ephemeral", False):
        return None
    return Path(args.state_dir) if getattr(args, "state_dir", None) else state.default_state_dir()


def _stack(args: argparse.Namespace, parameters: dict[str, str] | None = None) -> LocalStack:
    """A stack on the command's state directory, started; a state another process owns is a usage error."""
    stack = LocalStack(parameters=parameters or {}, state_dir=_state_dir(args))
    try:
        stack.start()
    except state.StateInUse as exc:
        raise UsageError(str(exc)) from None
    except (ValueError, KeyError, OSError) as exc:
        if stack.state_dir is None:
            raise
        raise UsageError(
            f"cannot restore the local state in {stack.state_dir}: {exc}; `python -m local reset` clears it"
        ) from None
    return stack


def _print_restored(stack: LocalStack, out: Any) -> None:
    if stack.state_dir is None:
        print("state       ephemeral (nothing is kept)", file=out)
    elif stack.restored is None:
        print(f"state       {stack.state_dir} (new)", file=out)
    else:
        restored = stack.restored
        print(
            f"state       {stack.state_dir}: restored {restored.objects} objects, {restored.items} items, "
            f"{restored.executions} executions saved at {restored.saved_at}",
            file=out,
        )


def _stop_on_sigterm() -> None:
    """`kill PID` stops `up` as Ctrl-C does, so the state is saved."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def up_command(args: argparse.Namespace) -> int:
    out = sys.stdout
    _stop_on_sigterm()
    with _stack(args, parameters={"ServingRuntime": args.serving_runtime}) as stack:
        _print_restored(stack, out)
        served = sorted(model["model_name"] for model in _models(stack))
        if args.seed:
            dataset_uri = _upload(stack, "datasets/breast-cancer.csv", breast_cancer_csv())
            print(f"seeding: TrainingPipeline on {dataset_uri}", file=out, flush=True)
            result = run_training(
                stack,
                {
                    "model_name": "breast-cancer",
                    "dataset_uri": dataset_uri,
                    "target": "target",
                    "requested_by": "local up --seed",
                },
                on_progress=_printer(out),
            )
            _print_result(result, out)
            served = sorted(model["model_name"] for model in _models(stack))  # the seeded model is one of them now
        try:
            gateway = LocalGateway(stack, port=args.port).start()
        except OSError as exc:
            raise UsageError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}") from None
        example = "breast-cancer" if args.seed else (served[0] if served else "NAME")
        print(
            f"""
Local API on {gateway.url} (Ctrl-C to stop)
  predict (API key)   POST {gateway.url}/models/{example}/predict   header x-api-key: {stack.api_key}
  client API keys     {", ".join(f"{client}: {key}" for client, key in stack.client_api_keys.items())}
  admin (IAM on AWS)  GET  {gateway.url}/models   ·   POST {gateway.url}/pipelines/training   ·   ...
  models              {", ".join(served) or "none yet (--seed trains one, or mlops --url " + gateway.url + " train)"}
  bucket {stack.bucket}, table {stack.table}, serving runtime {args.serving_runtime}
try:
  mlops --url {gateway.url} versions list {example}
  curl -s {gateway.url}/models/{example}
  curl -s -X POST {gateway.url}/models/{example}/predict -H 'x-api-key: {stack.api_key}' \\
       -H 'content-type: application/json' -d @examples/predict_breast_cancer.json""",
            file=out,
            flush=True,
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping" + (f"; saving the state to {stack.state_dir}" if stack.state_dir else ""), file=out)
        finally:
            gateway.stop()
    return 0


def _models(stack: LocalStack) -> list[dict[str, Any]]:
    return [model.to_document() for model in stack.registry().list_models()]


def reset_command(args: argparse.Namespace) -> int:
    directory = _state_dir(args) or state.default_state_dir()
    try:
        removed = state.reset(directory)
    except state.StateInUse as exc:
        raise UsageError(str(exc)) from None
    print(f"{'cleared' if removed else 'nothing to clear in'} {directory}")
    return 0


def reproduce_command(args: argparse.Namespace) -> int:
    """A client of a running `python -m local up`: the registry lives in that process's embedded AWS."""
    url = f"{args.url.rstrip('/')}/models/{args.model_name}/versions/{args.version}/reproduce"
    request = urllib.request.Request(url, data=b"", method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            report = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        message = json.loads(exc.read() or b"{}").get("message", exc.reason)
        raise UsageError(f"{exc.code} from {url}: {message}") from None
    except (urllib.error.URLError, ConnectionError) as exc:
        raise UsageError(
            f"no local API at {args.url} ({getattr(exc, 'reason', exc)}); start it with "
            "`python -m local up --seed` and run this command from another shell"
        ) from None
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        verdict = "REPRODUCED" if report["reproduced"] else f"NOT REPRODUCED: {report['reason']}"
        print(f"{args.model_name} v{args.version}: {verdict}")
        print(f"  data sha256 matches  {report['data_matches']}")
        if report["data_matches"]:
            print(f"  split sizes match    {report['split_matches']}")
            print(
                f"  metrics match        {report['metrics_match']}  (max difference "
                f"{max(report['metric_differences'].values()):.2e})"
            )
            print(
                f"  predictions match    {report['predictions_match']}  "
                f"(agreement {report['prediction_agreement']:.4f}, "
                f"max difference {report['max_prediction_difference']:.2e})"
            )
        print(f"  report               {report['report_uri']}")
    return 0 if report["reproduced"] else EXIT_FAILED


def drift_command(args: argparse.Namespace) -> int:
    from local import drift_files  # noqa: PLC0415 - only this command needs it
    from mlops.errors import InvalidMonitoringConfig  # noqa: PLC0415
    from mlops.monitoring.config import DriftConfig  # noqa: PLC0415
    from mlops.monitoring.reports import render_html  # noqa: PLC0415

    for path in (args.reference, args.current):
        if not Path(path).is_file():
            raise UsageError(f"not a file: {path}")
    try:
        config = DriftConfig.from_dict(json.loads(args.config) if args.config else None)
        result = drift_files.compare_files(Path(args.reference), Path(args.current), config)
    except (json.JSONDecodeError, InvalidMonitoringConfig, drift_files.CsvProblem) as exc:
        raise UsageError(str(exc)) from None
    if args.html:
        Path(args.html).write_text(render_html(result))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        drift_files.print_summary(result, sys.stdout)
        if args.html:
            print(f"report: {args.html}")
    return EXIT_FAILED if args.fail_on_drift and result["dataset_drift"] else 0


def aws_server_command(args: argparse.Namespace) -> int:
    from local import aws_server, event_files  # noqa: PLC0415 - only this command needs moto's server

    out = sys.stdout
    _stop_on_sigterm()
    with _stack(args) as stack:
        _print_restored(stack, out)
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
            print(
                f"""
Embedded AWS on {endpoint} (moto server; Ctrl-C to stop{"; the state is saved" if stack.state_dir else ""})
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


def _write_events() -> int:
    for path in write_events():
        print(path.relative_to(ROOT))
    return 0


def _state_arguments(parser: argparse.ArgumentParser, *, ephemeral: bool = True) -> None:
    parser.add_argument("--state-dir", metavar="DIR", help="where the local AWS keeps its data (default .local-aws)")
    if ephemeral:
        parser.add_argument("--ephemeral", action="store_true", help="start empty and keep nothing")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the whole pipeline on the bundled breast-cancer dataset")
    commands.add_parser("write-events", help="regenerate events/<function>/*.json from a real execution")
    reproduce = commands.add_parser("reproduce", help="retrain a version from its lineage (needs `local up`)")
    reproduce.add_argument("--model-name", required=True)
    reproduce.add_argument("--version", type=int, required=True)
    reproduce.add_argument("--url", default="http://127.0.0.1:3000", help="the running local API")
    reproduce.add_argument("--json", action="store_true")
    server = commands.add_parser(
        "aws-server", help="the embedded AWS as a moto server (for sam local invoke, the AWS CLI) until Ctrl-C"
    )
    _state_arguments(server)
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
    reset = commands.add_parser("reset", help="clear the local state (.local-aws/) that run-pipeline and up keep")
    _state_arguments(reset, ephemeral=False)
    up = commands.add_parser("up", help="serve the API locally (embedded AWS + HTTP gateway) until Ctrl-C")
    _state_arguments(up)
    up.add_argument("--port", type=int, default=3000, help="port on 127.0.0.1 (default 3000; 0 picks a free one)")
    up.add_argument("--seed", action="store_true", help="train and deploy the breast-cancer model first")
    up.add_argument(
        "--serving-runtime",
        choices=["onnx", "sklearn"],
        default="onnx",
        help="the template's ServingRuntime parameter (default onnx)",
    )
    run = commands.add_parser("run-pipeline", help="train, gate, register and deploy a model on your CSV")
    run.add_argument("--data", required=True, help="path of a CSV file with a header row")
    run.add_argument("--target", required=True, help="name of the column to predict")
    run.add_argument("--model-name", required=True, help="registry name of the model")
    run.add_argument("--task", choices=["classification", "regression"], help="inferred from the target if absent")
    run.add_argument("--candidates", help='JSON file: a list of {"estimator": ..., "params": {...}}')
    run.add_argument(
        "--max-trials", type=int, metavar="N", help="search N trials (the default spaces unless --search gives them)"
    )
    run.add_argument("--search", metavar="FILE.json", help="JSON file: the search (spaces, max_trials, halving, ...)")
    run.add_argument("--gate-metric", help="metric the gate compares (default f1 / r2)")
    run.add_argument("--min-score", type=float, help="absolute threshold the winner must meet")
    run.add_argument("--seed", type=int, default=42, help="split and estimator seed (default 42)")
    run.add_argument("--features", metavar="A,B", help="the only columns to learn from")
    run.add_argument("--exclude", metavar="A,B", help="columns never to learn from")
    run.add_argument("--id-columns", metavar="A,B", help="identifier columns (excluded)")
    run.add_argument("--datetime-columns", metavar="A,B", help="ISO date columns (turned into numeric parts)")
    run.add_argument("--class-weight", choices=["balanced"], help="weight classes by their inverse frequency")
    run.add_argument("--block-on-leakage", action="store_true", help="fail the gate when a feature leaks the target")
    run.add_argument(
        "--compute",
        choices=["lambda", "sagemaker"],
        help="train on the Train function or a SageMaker training job (default: lambda, sagemaker above its memory)",
    )
    run.add_argument("--json", action="store_true", help="print one JSON object with the result")
    _state_arguments(run)
    check = commands.add_parser("drift", help="compare two CSV files with the drift check's statistics")
    check.add_argument("--reference", required=True, help="CSV of the reference data (e.g. the training data)")
    check.add_argument("--current", required=True, help="CSV of the current data (read in chunks)")
    check.add_argument("--json", action="store_true", help="print one JSON object (the shape of report.json)")
    check.add_argument("--html", metavar="OUT.html", help="also write the self-contained HTML report there")
    check.add_argument("--config", help='JSON object of drift settings, e.g. {"psi_threshold": 0.2}')
    check.add_argument("--fail-on-drift", action="store_true", help="exit with 1 when the data drifted")
    return parser


COMMANDS = {
    "demo": demo_command,
    "reproduce": reproduce_command,
    "up": up_command,
    "reset": reset_command,
    "drift": drift_command,
    "write-events": lambda args: _write_events(),
    "aws-server": aws_server_command,
    "run-pipeline": run_pipeline_command,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
