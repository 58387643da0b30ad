"""How fast a search runs through the local pipeline: trials per minute, end to end.

One run of the real TrainingPipeline on the local stack (Prepare, PlanTrials, the Distributed Map over the trial list
in S3, Evaluate ... Deploy) with a search of N logistic-regression trials on the breast-cancer table (569 rows);
``trials_per_minute`` is N over the run's wall time. The baseline, measured in the same run: the trials' own fit time
(the leaderboard's ``fit_s``, summed); ``tuning_overhead_ratio`` is the run's wall time over it (what orchestration,
S3 and the steps around the fits cost). Local handler invocations run one at a time, so this is a serial figure.

    python -m bench.tuning [--trials 40]
"""

from __future__ import annotations

import argparse
import json
import logging

from local.runs.datasets import breast_cancer_csv
from local.runs.training import run_training
from local.stack import LocalStack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    with LocalStack() as stack:
        stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/bc.csv", Body=breast_cancer_csv())
        search = {
            "max_trials": args.trials,
            "seed": 0,
            "spaces": [
                {
                    "estimator": "logistic_regression",
                    "params": {"C": {"type": "float", "low": 1e-3, "high": 1e2, "log": True}},
                    "fixed": {"max_iter": 500},
                }
            ],
        }
        request = {
            "model_name": "tuning-bench",
            "dataset_uri": f"s3://{stack.bucket}/datasets/bc.csv",
            "target": "target",
            "search": search,
            "requested_by": "bench",
        }
        result = run_training(stack, request)
    if result.status != "SUCCEEDED":
        raise SystemExit(f"the run failed: {result.error}: {result.cause}")
    fit_s = sum(entry.get("fit_s") or 0.0 for entry in result.documents["leaderboard"])
    print(f"{args.trials} trials in {result.duration_s:.1f} s (fits alone: {fit_s:.2f} s)")
    print(
        json.dumps(
            {
                "benchmark": "tuning",
                "trials": args.trials,
                "trials_per_minute": round(60.0 * args.trials / result.duration_s, 1),
                "tuning_run_s": round(result.duration_s, 2),
                "tuning_fit_s": round(fit_s, 2),
                "tuning_overhead_ratio": round(result.duration_s / fit_s, 1) if fit_s else None,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
