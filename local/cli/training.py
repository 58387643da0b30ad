"""`demo`, `run-pipeline` and `reproduce`: the TrainingPipeline on the bundled data sets, on a CSV of the user's, and
a version retrained from its lineage (through a running `up`)."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from local.cli.common import (
    EXIT_FAILED,
    UsageError,
    print_restored,
    print_result,
    printer,
    started_stack,
    state_arguments,
    upload,
    upload_by_content,
)
from local.runs.datasets import breast_cancer_csv, diabetes_csv
from local.runs.monitoring import demo_monitoring
from local.runs.training import run_training
from local.stack import LocalStack


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
    with started_stack(args) as stack:
        print_restored(stack, out)
        request: dict[str, Any] = {
            "model_name": args.model_name,
            "dataset_uri": upload_by_content(stack, Path(args.data).name, payload),
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
        for field in ("features", "exclude", "id_columns", "datetime_columns", "text_columns"):
            if getattr(args, field):
                request[field] = _column_list(getattr(args, field))
        if args.class_weight:
            request["class_weight"] = args.class_weight
        if not args.json:
            print(f"TrainingPipeline on {args.data} (target {args.target!r}, model {args.model_name!r})", file=out)
        result = run_training(stack, request, on_progress=None if args.json else printer(out))
        if args.json:
            print(json.dumps(result.summary(), indent=2))
        else:
            print_result(result, out)
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
        dataset_uri = upload(stack, "datasets/breast-cancer.csv", breast_cancer_csv())
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
            result = run_training(stack, {**base, **overrides}, on_progress=printer(out))
            print_result(result, out)
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
                "dataset_uri": upload(stack, "datasets/diabetes.csv", diabetes_csv()),
                "target": "progression",
                "candidates": [{"estimator": "ridge", "params": {"alpha": 1.0}}],
                "requested_by": "make demo",
            },
            on_progress=printer(out),
        )
        print_result(second, out)
        results.append(second)
        print(file=out)
        monitored = demo_monitoring(stack, "breast-cancer", breast_cancer_csv(), out, printer(out))
    print(DEMO_NEXT_STEPS, file=out)
    return 0 if monitored and all(r.status == "SUCCEEDED" for r in results) else EXIT_FAILED


DEMO_NEXT_STEPS = """
This demo's stack was ephemeral: the models, registry and reports above are gone now that it ended.
Next, with a stack that keeps its state (.local-aws/, `mlops local reset` clears it):
  mlops local up --seed                  serve the API on http://127.0.0.1:3000 (and /dashboard); it prints the
                                         API key and a predict example for the model it serves
  mlops local run --data your.csv --target COLUMN --model-name NAME
                                         train your own model on the same stack (stop `up` first, or use
                                         `mlops --url http://127.0.0.1:3000 train --dataset-uri ./your.csv ...`)
  mlops --url http://127.0.0.1:3000 --api-key KEY predict NAME --data rows.csv
(mlops is .venv/bin/mlops, installed by `make venv`; every verb: mlops --help, docs/cli.md, docs/local.md)"""


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
            "`mlops local up --seed` and run this command from another shell"
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


def add_demo(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("demo", help="run the whole pipeline on the bundled breast-cancer dataset")
    parser.set_defaults(run=demo_command)


def add_reproduce(commands: argparse._SubParsersAction) -> None:
    reproduce = commands.add_parser("reproduce", help="retrain a version from its lineage (needs `local up`)")
    reproduce.add_argument("--model-name", required=True)
    reproduce.add_argument("--version", type=int, required=True)
    reproduce.add_argument("--url", default="http://127.0.0.1:3000", help="the running local API")
    reproduce.add_argument("--json", action="store_true")
    reproduce.set_defaults(run=reproduce_command)


def add_run_pipeline(commands: argparse._SubParsersAction) -> None:
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
    run.add_argument("--datetime-columns", metavar="A,B", help="dates in a known form (turned into numeric parts)")
    run.add_argument("--text-columns", metavar="A,B", help="free-text columns (TF-IDF features)")
    run.add_argument("--class-weight", choices=["balanced"], help="weight classes by their inverse frequency")
    run.add_argument("--block-on-leakage", action="store_true", help="fail the gate when a feature leaks the target")
    run.add_argument(
        "--compute",
        choices=["lambda", "sagemaker"],
        help="train on the Train function or a SageMaker training job (default: lambda, sagemaker above its memory)",
    )
    run.add_argument("--json", action="store_true", help="print one JSON object with the result")
    state_arguments(run)
    run.set_defaults(run=run_pipeline_command)
