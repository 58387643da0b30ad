"""Cost of the orchestration: the TrainingPipeline state machine (moto's interpreter, lambda:invoke, the
in-process runtime) versus the baseline of calling the same step functions directly, in sequence, on the
same embedded S3 and DynamoDB, with the same data and candidates. Prints a JSON object with the ratio.

    python -m bench.pipeline_overhead [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
import uuid

import local  # noqa: F401 - puts the core layer on sys.path, as Lambda does
from local.runs.datasets import breast_cancer_csv
from local.runs.training import run_training
from local.stack import LocalStack
from mlops.records.request import parse_training_request
from mlops.serving import deploy
from mlops.settings import Settings
from mlops.training.evaluation import evaluate
from mlops.training.prepare import prepare
from mlops.training.register import register
from mlops.training.train import train

CANDIDATES = [
    {"estimator": "logistic_regression", "params": {"C": 1.0, "max_iter": 2000}},
    {"estimator": "random_forest", "params": {"n_estimators": 100, "min_samples_leaf": 2}},
    {"estimator": "hist_gradient_boosting", "params": {"max_iter": 100}},
]


def direct_run(stack: LocalStack, request: dict) -> float:
    """The baseline: the same steps as plain function calls, no state machine, no Lambda invoke."""
    settings = Settings(
        artifacts_bucket=stack.bucket,
        registry_table=stack.table,
        alias_table=stack.alias_table,
        audit_table=stack.audit_table,
        monitor_table=stack.monitor_table,
    )
    registry = stack.registry()
    arn = f"arn:aws:states:us-east-1:123456789012:execution:direct:{uuid.uuid4().hex[:12]}"
    started = time.perf_counter()
    prepared = prepare(parse_training_request(request), arn, settings)
    seed = prepared.request.split.seed
    candidates = [
        train(c, i, prepared.dataset, seed=seed, execution_arn=arn, settings=settings)
        for i, c in enumerate(prepared.request.candidates)
    ]
    evaluation = evaluate(
        prepared.request, prepared.dataset, candidates, execution_arn=arn, settings=settings, registry=registry
    )
    registration = register(
        prepared.request, prepared.dataset, evaluation, execution_arn=arn, settings=settings, registry=registry
    )
    if evaluation.gate.passed:
        deploy.deploy(request["model_name"], registration.version, execution_arn=arn, reason="bench", registry=registry)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    state_machine_s, direct_s = [], []
    with LocalStack() as stack:
        stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/bc.csv", Body=breast_cancer_csv())
        for repeat in range(args.repeats + 1):  # the first round warms imports and caches; not counted
            request = {
                "model_name": f"bench-{repeat}",
                "dataset_uri": f"s3://{stack.bucket}/datasets/bc.csv",
                "target": "target",
                "candidates": CANDIDATES,
            }
            direct = direct_run(stack, {**request, "model_name": f"direct-{repeat}"})
            started = time.perf_counter()
            result = run_training(stack, request)
            orchestrated = time.perf_counter() - started
            if result.status != "SUCCEEDED":
                raise SystemExit(f"the pipeline failed: {result.error}: {result.cause}")
            if repeat:
                state_machine_s.append(orchestrated)
                direct_s.append(direct)
    state_machine = statistics.median(state_machine_s)
    baseline = statistics.median(direct_s)
    print(
        json.dumps(
            {
                "benchmark": "pipeline_overhead",
                "baseline": "the same step functions called directly on the same moto S3/DynamoDB",
                "repeats": args.repeats,
                "state_machine_median_s": round(state_machine, 3),
                "direct_calls_median_s": round(baseline, 3),
                "pipeline_overhead_ratio_vs_direct_calls": round(state_machine / baseline, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
