"""Label-free estimated performance against the truth, and what permutation importance costs the Evaluate step.

1. CBPE on generated covariate shifts whose true accuracy is known (P(y | x) fixed, the features moved): a
   logistic regression and a random forest (whose raw probabilities are not calibrated) are trained on unshifted
   data and calibrated on an unshifted holdout by the training code (``mlops.training.estimator``); each shifted
   window's estimate (``mlops.monitoring.estimated``, what the drift check runs) is compared with the accuracy of the
   window's drawn labels. Baseline in the same run: the uncalibrated estimate (the mean of the served probability of
   the predicted class), which is what CBPE without its calibration step would say. Unshifted windows count false
   alarms (``EstimatedPerformanceDegraded`` raised on a window like the holdout).
2. The Evaluate step (``mlops.training.evaluation.evaluate``, the real function, S3 on a local directory) on a
   generated table after the real Prepare and Train, with and without permutation importance, alternated, medians.

python -m bench.estimated_performance [--windows 60] [--rows 20000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "core" / "python"))

from mlops.monitoring.config import MonitoringConfig  # noqa: E402
from mlops.monitoring.estimated import judge_estimated  # noqa: E402
from mlops.monitoring.estimation import EstimateFeeder  # noqa: E402
from mlops.records.schema import Feature, Schema  # noqa: E402
from mlops.training.estimator import fit_estimator  # noqa: E402

COEFFICIENTS = np.array([1.4, -1.0, 0.8, 0.5, 0.0, 0.0])
SCHEMA = Schema([Feature(f"x{i}", "numeric") for i in range(6)], "y", "classification", ["0", "1"], "1")
EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:pipeline:bench"


def draw(rng: np.random.Generator, rows: int, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(rows, 6)) + shift
    logit = x @ COEFFICIENTS + 0.6 * x[:, 0] * x[:, 1] - 0.2  # an interaction: the linear model is misspecified
    y = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "1", "0").astype(object)
    return x, y


def window_estimate(model, estimator: dict, x: np.ndarray) -> tuple[dict, float]:
    probabilities, labels = model.predict_proba(x), model.predict(x)
    records = [
        {"prediction": label, "probabilities": {"0": float(p[0]), "1": float(p[1])}}
        for label, p in zip(labels, probabilities, strict=True)
    ]
    feeder = EstimateFeeder(estimator)
    feeder.add(records, [{} for _ in records])
    uncalibrated = float(np.mean(probabilities.max(axis=1)))
    return judge_estimated(feeder, estimator, "", {}, MonitoringConfig()), uncalibrated


def cbpe(model_name: str, windows: int, seed: int) -> dict:
    from sklearn.ensemble import RandomForestClassifier  # noqa: PLC0415
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    train_x, train_y = draw(rng, 6000, np.zeros(6))
    model = (
        LogisticRegression()
        if model_name == "logistic_regression"
        else RandomForestClassifier(n_estimators=100, min_samples_leaf=5, random_state=seed, n_jobs=1)
    ).fit(train_x, train_y)
    holdout_x, holdout_y = draw(rng, 3000, np.zeros(6))
    reference = {"accuracy": float(np.mean(model.predict(holdout_x) == holdout_y))}
    estimator, _ = fit_estimator(model, holdout_x.astype(object), holdout_y, SCHEMA, reference, seed=0)
    errors, baseline_errors, covered, truths = [], [], [], []
    for _ in range(windows):
        shift = rng.uniform(-1.2, 1.2, size=6) * (rng.random(6) < 0.5)
        x, y = draw(rng, 1000, shift)
        result, uncalibrated = window_estimate(model, estimator, x)
        truth = float(np.mean(model.predict(x) == y))
        accuracy = result["metrics"]["accuracy"]
        errors.append(abs(accuracy["value"] - truth))
        baseline_errors.append(abs(uncalibrated - truth))
        covered.append(accuracy["low"] <= truth <= accuracy["high"])
        truths.append(truth)
    false_alarms = 0
    for rows in (200, 500, 1000, 5000) * (windows // 4):
        x, _ = draw(rng, rows, np.zeros(6))
        false_alarms += window_estimate(model, estimator, x)[0]["degraded"]
    return {
        "model": model_name,
        "calibration": estimator["calibration"]["method"],
        "shifted_windows": windows,
        "true_accuracy_range": [round(min(truths), 4), round(max(truths), 4)],
        "mean_absolute_error": float(np.mean(errors)),
        "uncalibrated_mean_absolute_error": float(np.mean(baseline_errors)),
        "within_interval": float(np.mean(covered)),
        "unshifted_windows": 4 * (windows // 4),
        "false_alarm_rate": false_alarms / (4 * (windows // 4)),
    }


def evaluate_times(rows: int, repeats: int) -> dict:
    from bench.local_storage import storage_on  # noqa: PLC0415
    from bench.prepare import generate  # noqa: PLC0415
    from bench.step_memory import _NoChampion  # noqa: PLC0415
    from mlops.records.request import TrainingRequest  # noqa: PLC0415
    from mlops.settings import Settings  # noqa: PLC0415
    from mlops.training.evaluation import evaluate  # noqa: PLC0415
    from mlops.training.prepare import prepare  # noqa: PLC0415
    from mlops.training.train import train  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        generate(folder / "table.csv", rows)
        storage_on(folder)
        settings = Settings("bench", "registry", "aliases", "audit", "monitor")
        request = TrainingRequest.model_validate(
            {"model_name": "bench", "dataset_uri": "s3://bench/table.csv", "target": "label"}
        )
        prepared = prepare(request, EXECUTION_ARN, settings)
        candidates = [
            train(
                c, i, prepared.dataset, seed=prepared.request.split.seed, execution_arn=EXECUTION_ARN, settings=settings
            )
            for i, c in enumerate(prepared.request.candidates)
        ]
        seconds: dict[bool, list[float]] = {True: [], False: []}
        importance = None
        for _ in range(repeats):
            for measure_importance in (False, True):
                started = time.perf_counter()
                result = evaluate(
                    prepared.request,
                    prepared.dataset,
                    candidates,
                    execution_arn=EXECUTION_ARN,
                    settings=settings,
                    registry=_NoChampion(),  # type: ignore[arg-type]
                    measure_importance=measure_importance,
                )
                seconds[measure_importance].append(time.perf_counter() - started)
                importance = result.feature_importance or importance
    with_s, without_s = statistics.median(seconds[True]), statistics.median(seconds[False])
    return {
        "rows": rows,
        "winner": result.winner.estimator,
        "features": len(importance.features) if importance else None,
        "importance_rows": importance.rows if importance else None,
        "importance_repeats": importance.repeats if importance else None,
        "evaluate_s_with_importance": round(with_s, 3),
        "evaluate_s_without_importance": round(without_s, 3),
        "evaluate_time_ratio_with_importance": with_s / without_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", type=int, default=60)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = [cbpe(name, args.windows, seed) for seed, name in enumerate(("logistic_regression", "random_forest"))]
    for row in results:
        print(
            f"{row['model']:>20} ({row['calibration']}): |estimated − true accuracy| {row['mean_absolute_error']:.4f} "
            f"(uncalibrated {row['uncalibrated_mean_absolute_error']:.4f}), truth within the interval "
            f"{row['within_interval']:.0%} of {row['shifted_windows']} shifted windows, false alarms "
            f"{row['false_alarm_rate']:.1%} of {row['unshifted_windows']} unshifted",
            flush=True,
        )
    timing = evaluate_times(args.rows, args.repeats)
    print(
        f"Evaluate on {timing['rows']:,} rows ({timing['winner']}): {timing['evaluate_s_with_importance']} s with "
        f"importance, {timing['evaluate_s_without_importance']} s without",
        flush=True,
    )
    error = max(row["mean_absolute_error"] for row in results)
    print(
        json.dumps(
            {
                "benchmark": "estimated_performance",
                "estimated_performance_error": error,
                "estimated_performance_error_ratio_vs_uncalibrated": max(
                    row["mean_absolute_error"] / row["uncalibrated_mean_absolute_error"] for row in results
                ),
                "estimated_performance_within_interval_min": min(row["within_interval"] for row in results),
                "estimated_performance_false_alarm_rate": max(row["false_alarm_rate"] for row in results),
                "evaluate_time_ratio_with_importance": timing["evaluate_time_ratio_with_importance"],
                "models": results,
                "evaluate": timing,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
