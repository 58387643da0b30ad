"""A large CSV trained through the SageMaker path of the real TrainingPipeline, locally: wall time and peak memory.

Generates a CSV of the given size (bench.prepare's generator: 15 numeric columns, 4 categorical of 3 to 2,000
values, a binary label; ~148 bytes a row), starts an ephemeral local stack in a fresh subprocess per run, uploads
the file and runs the state machine with ``compute: sagemaker`` and one candidate (hist_gradient_boosting, 50
iterations): Prepare and Evaluate on the in-process Lambda runtime, the candidate in the emulated
``createTrainingJob.sync`` (local/emulated/sagemaker_training.py: the job's entry point in-process, the same S3 keys).
The baseline, measured in the same run on the same file, is the same request with ``compute: lambda`` (the Train
function in-process; locally nothing enforces its MemorySize): the ratio is the SageMaker path's wall time over
the Lambda path's, i.e. what the emulated integration costs on top of the same training.

Memory: the subprocess's peak RSS (everything local: moto's S3 holds the CSV and the splits in the same process),
and the job's own share: the process's high-water mark while the job ran (reset before it starts through
/proc/self/clear_refs) minus its RSS when it started.

    python -m bench.sagemaker_path [--sizes-mb 1024] [--no-baseline]

The default is a 1 GB CSV; on a 2-core, 23 GB development machine the measured sizes were 100 and 300 MB
(docs/training.md says why and how the memory scales).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.prepare import generate

ROOT = Path(__file__).resolve().parent.parent
BYTES_PER_ROW = 148  # bench.prepare's generator: 14.1 MiB per 100,000 rows
CANDIDATE = {"estimator": "hist_gradient_boosting", "params": {"max_iter": 50}}


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _measure_the_job() -> dict[str, Any]:
    """Wrap the emulated job: RSS when it starts, the high-water mark while it runs (reset first)."""
    from local.emulated import sagemaker_training  # noqa: PLC0415

    measured: dict[str, Any] = {}
    original = sagemaker_training.run_training_job

    def measured_job(parameters: dict[str, Any], region: str) -> dict[str, Any]:
        start_kib = _status_kib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        started = time.perf_counter()
        description = original(parameters, region)
        measured.update(
            job_s=time.perf_counter() - started,
            job_start_rss_mib=start_kib / 1024,
            job_peak_rss_mib=_status_kib("VmHWM") / 1024,
            job_status=description["TrainingJobStatus"],
        )
        return description

    sagemaker_training.run_training_job = measured_job
    return measured


def worker(csv_path: str, engine: str) -> dict[str, Any]:
    from local.runs.training import run_training  # noqa: PLC0415
    from local.stack import LocalStack  # noqa: PLC0415

    job = _measure_the_job()
    with LocalStack() as stack:
        payload = Path(csv_path).read_bytes()
        stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/large.csv", Body=payload)
        del payload
        request = {
            "model_name": "large",
            "dataset_uri": f"s3://{stack.bucket}/datasets/large.csv",
            "target": "label",
            "candidates": [CANDIDATE],
            "compute": engine,
            "requested_by": "bench.sagemaker_path",
        }
        started = time.perf_counter()
        result = run_training(stack, request, timeout_s=6 * 3600)
        wall_s = time.perf_counter() - started
    summary = result.summary()
    if result.status != "SUCCEEDED":
        raise RuntimeError(f"the {engine} run failed: {summary['error']}: {summary['error_message']}")
    return {
        "engine": engine,
        "compute": summary["compute"],
        "wall_s": wall_s,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **job,
    }


def _run(csv_path: Path, engine: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.sagemaker_path", "worker", str(csv_path), engine],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=8 * 3600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{engine} run failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def measure(size_mb: int, baseline: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as name:
        path = Path(name) / "large.csv"
        generate(path, max(1000, size_mb * 2**20 // BYTES_PER_ROW))
        csv_mib = path.stat().st_size / 2**20
        rows = sum(1 for _ in path.open("rb")) - 1
        sagemaker = _run(path, "sagemaker")
        lambda_run = _run(path, "lambda") if baseline else None
    figures = {
        "csv_mib": round(csv_mib, 1),
        "rows": rows,
        "wall_s": round(sagemaker["wall_s"], 1),
        "training_job_s": round(sagemaker["job_s"], 1),
        "peak_rss_mib": round(sagemaker["peak_rss_mib"]),
        "job_peak_extra_mib": round(sagemaker["job_peak_rss_mib"] - sagemaker["job_start_rss_mib"]),
        "job_extra_mib_per_csv_mib": round(
            (sagemaker["job_peak_rss_mib"] - sagemaker["job_start_rss_mib"]) / csv_mib, 2
        ),
    }
    if lambda_run is not None:
        figures["lambda_wall_s"] = round(lambda_run["wall_s"], 1)
        figures["lambda_peak_rss_mib"] = round(lambda_run["peak_rss_mib"])
        figures["wall_ratio_vs_lambda"] = round(sagemaker["wall_s"] / lambda_run["wall_s"], 3)
    return figures


def main() -> None:
    if len(sys.argv) >= 4 and sys.argv[1] == "worker":
        print(json.dumps(worker(sys.argv[2], sys.argv[3])))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[1024], help="CSV sizes to generate (MiB)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the same run on the Lambda path")
    args = parser.parse_args()
    runs = {size: measure(size, not args.no_baseline) for size in args.sizes_mb}
    largest = runs[max(runs)]
    document: dict[str, Any] = {
        "benchmark": "sagemaker_path",
        "baseline": "the same request and file on the Lambda path (compute: lambda), in the same run",
        "candidate": json.dumps(CANDIDATE),
        "sagemaker_path_runs": {f"{size}MB": figures for size, figures in runs.items()},
        # the largest size's figures, flat, for make bench's combined JSON
        **{f"sagemaker_path_{key}": value for key, value in largest.items()},
    }
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
