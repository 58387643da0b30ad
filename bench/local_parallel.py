"""Both cores locally: 8 Train invocations in parallel worker processes against the same 8 run one after another.

    python -m bench.local_parallel [--trials 8] [--trees 300]

One local stack with the worker runtime (``local.runtime.worker_processes``); the breast-cancer dataset prepared once;
then the Train function invoked with the same 8 trials (random forests of ``--trees`` trees, seeds 1..8), first as a
warm-up that starts 8 execution environments, then serially (one at a time, warm), then all at once (8 threads, each
waiting on its own worker). ``local_parallel_speedup`` is serial wall time over parallel wall time, both measured in
this run on this machine; on 2 cores the ceiling is 2.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

from local import runtime
from local.runs.datasets import breast_cancer_csv
from local.runs.event_files import EVENTS_DIR
from local.stack import LocalStack


def _train_events(stack: LocalStack, trials: int, trees: int) -> list[dict]:
    template = json.loads((EVENTS_DIR / "train" / "random_forest.json").read_text())
    return [
        {
            **template,
            "candidate": {"estimator": "random_forest", "params": {"n_estimators": trees, "min_samples_leaf": 1}},
            "index": index,
            "seed": index + 1,
        }
        for index in range(trials)
    ]


def _invoke(stack: LocalStack, function_name: str, event: dict) -> None:
    response = stack.client("lambda").invoke(FunctionName=function_name, Payload=json.dumps(event).encode())
    payload = json.loads(response["Payload"].read())
    if response.get("FunctionError"):
        raise SystemExit(f"{function_name} failed: {payload}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--trees", type=int, default=200)
    args = parser.parse_args()
    with LocalStack() as stack, runtime.worker_processes():
        stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/breast-cancer.csv", Body=breast_cancer_csv())
        prepare = json.loads((EVENTS_DIR / "prepare" / "breast_cancer.json").read_text())
        _invoke(stack, stack.function_names["PrepareFunction"], prepare)
        train = stack.function_names["TrainFunction"]
        events = _train_events(stack, args.trials, args.trees)
        with ThreadPoolExecutor(max_workers=args.trials) as pool:
            list(pool.map(lambda event: _invoke(stack, train, event), events))  # warm-up: every environment started
            started = time.perf_counter()
            for event in events:
                _invoke(stack, train, event)
            serial_s = time.perf_counter() - started
            started = time.perf_counter()
            list(pool.map(lambda event: _invoke(stack, train, event), events))
            parallel_s = time.perf_counter() - started
        environments = runtime.worker_pools()[train].started
    print(
        json.dumps(
            {
                "benchmark": "local_parallel",
                "baseline": f"the same {args.trials} Train invocations one after another, warm, in the same run",
                "cores": os.cpu_count(),
                "trials": args.trials,
                "train_environments": environments,
                "serial_s": round(serial_s, 3),
                "parallel_s": round(parallel_s, 3),
                "local_parallel_speedup": round(serial_s / parallel_s, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
