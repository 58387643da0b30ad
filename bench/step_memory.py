"""The largest dataset each training step handles within its function's MemorySize, measured.

Each step (Prepare, Train for every default candidate, Evaluate) runs in a fresh subprocess on generated tables of
two sizes (bench.prepare's generator: 15 numeric columns, 4 categorical, a binary label), the real step function with
S3 replaced by a directory at its edge, and reports its peak RSS (imports included). Peak memory is close to linear
in rows, so the two sizes give a fixed part and a per-CSV-MiB part; the largest CSV a step handles is
(MemorySize - fixed) / per-MiB, with MemorySize read from template.yaml. Extrapolated beyond the sizes measured,
and for this table's shape (wider or more text-heavy tables cost more per CSV MiB): an estimate, printed as such.
Each step's ``peak_memory_ratio_vs_matrix`` is (peak RSS - RSS before the data) over the float64 matrix of the
larger table's 19 features, the RSS before the data being the fitted fixed part (the imports, including those a step
makes only once it runs: Evaluate's metrics and bootstrap); ``peak_over_rss_before_data_ratio_vs_matrix`` uses the
RSS measured in the worker before the step starts instead. ``train_peak_memory_ratio_vs_matrix`` is the largest
default candidate's.

    python -m bench.step_memory [--rows 100000 200000]
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

from bench.local_storage import storage_on
from bench.prepare import CATEGORY_SIZES, NUMERIC, generate
from local.template import function_memory_size, load_template

ROOT = Path(__file__).resolve().parent.parent
EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:pipeline:bench"
FUNCTIONS = {"prepare": "PrepareFunction", "train": "TrainFunction", "evaluate": "EvaluateFunction"}


def _memory_sizes() -> dict[str, int]:
    template = load_template(ROOT / "template.yaml")
    return {step: function_memory_size(template, name) for step, name in FUNCTIONS.items()}


class _NoChampion:
    def get_alias(self, model_name: str, alias: str) -> None:
        return None


def worker(step: str, directory: str, argument: str) -> dict:
    sys.path.insert(0, str(ROOT / "layers" / "core" / "python"))
    from mlops.records.request import TrainingRequest  # noqa: PLC0415
    from mlops.records.steps import PreparedRun, TrainedCandidate  # noqa: PLC0415
    from mlops.settings import Settings  # noqa: PLC0415
    from mlops.training.evaluation import evaluate  # noqa: PLC0415
    from mlops.training.prepare import prepare  # noqa: PLC0415
    from mlops.training.train import train  # noqa: PLC0415

    folder = Path(directory)
    storage_on(folder)
    settings = Settings("bench", "registry", "aliases", "audit", "monitor")
    before_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # the imports' peak, no data read yet
    started = time.perf_counter()
    if step == "prepare":
        request = TrainingRequest.model_validate(
            {"model_name": "bench", "dataset_uri": "s3://bench/table.csv", "target": "label"}
        )
        result = prepare(request, EXECUTION_ARN, settings)
        (folder / "prepared.json").write_text(result.model_dump_json(by_alias=True))
    else:
        prepared = PreparedRun.model_validate_json((folder / "prepared.json").read_text())
        if step == "train":
            index = int(argument)
            candidate = prepared.request.candidates[index]
            trained = train(
                candidate,
                index,
                prepared.dataset,
                seed=prepared.request.split.seed,
                execution_arn=EXECUTION_ARN,
                settings=settings,
            )
            (folder / f"trained-{index}.json").write_text(trained.model_dump_json())
        else:
            candidates = [
                TrainedCandidate.model_validate_json(path.read_text()) for path in sorted(folder.glob("trained-*.json"))
            ]
            evaluate(
                prepared.request,
                prepared.dataset,
                candidates,
                execution_arn=EXECUTION_ARN,
                settings=settings,
                registry=_NoChampion(),  # type: ignore[arg-type]
            )
    return {
        "seconds": time.perf_counter() - started,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "rss_before_data_bytes": before_data,
    }


def _run(step: str, directory: Path, argument: str = "") -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.step_memory", "worker", step, str(directory), argument],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=3_600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{step} {argument} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def measure(rows: int) -> dict:
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        source = directory / "table.csv"  # the key of s3://bench/table.csv in _storage_on's directory
        generate(source, rows)
        csv_mib = source.stat().st_size / 2**20
        results = {"csv_mib": csv_mib, "rows": rows, "prepare": _run("prepare", directory)}
        prepared = json.loads((directory / "prepared.json").read_text())
        for index, candidate in enumerate(prepared["request"]["candidates"]):
            results[f"train:{candidate['estimator']}"] = _run("train", directory, str(index))
        results["evaluate"] = _run("evaluate", directory)
    return results


def main() -> None:
    if len(sys.argv) >= 4 and sys.argv[1] == "worker":
        print(json.dumps(worker(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "")))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs=2, default=(100_000, 200_000))
    args = parser.parse_args()
    small, large = (measure(rows) for rows in args.rows)
    memory = _memory_sizes()
    steps: dict[str, dict] = {}
    matrix_bytes = large["rows"] * (NUMERIC + len(CATEGORY_SIZES)) * 8  # the table's features as float64
    for step in (key for key in large if key not in ("csv_mib", "rows")):
        mib_small, mib_large = (r[step]["peak_rss_bytes"] / 2**20 for r in (small, large))
        per_csv_mib = (mib_large - mib_small) / (large["csv_mib"] - small["csv_mib"])
        fixed = mib_small - per_csv_mib * small["csv_mib"]
        limit = memory[step.split(":")[0]]
        steps[step] = {
            "memory_size_mib": limit,
            "peak_rss_mib": [round(mib_small), round(mib_large)],
            "seconds": [round(small[step]["seconds"], 1), round(large[step]["seconds"], 1)],
            "fixed_mib": round(fixed),
            "mib_per_csv_mib": round(per_csv_mib, 2),
            "largest_csv_mib_estimate": round((limit - fixed) / per_csv_mib) if per_csv_mib > 0 else None,
            # the data's part of the peak: above the fitted fixed part (the imports, a step's lazy ones included)
            "peak_memory_ratio_vs_matrix": round((mib_large - fixed) * 2**20 / matrix_bytes, 2),
            # above the RSS measured before the step read anything (lazy imports count as data here)
            "peak_over_rss_before_data_ratio_vs_matrix": round(
                (large[step]["peak_rss_bytes"] - large[step]["rss_before_data_bytes"]) / matrix_bytes, 2
            ),
        }
    largest = min(s["largest_csv_mib_estimate"] for s in steps.values() if s["largest_csv_mib_estimate"])
    document = {
        "benchmark": "step_memory",
        "rows": list(args.rows),
        "csv_mib": [round(small["csv_mib"], 1), round(large["csv_mib"], 1)],
        "steps": steps,
        "pipeline_largest_csv_mib_estimate": largest,
        # (peak RSS - RSS before the data) / the float64 matrix of the table's features, at the larger size: the
        # largest of the default candidates for Train
        "train_peak_memory_ratio_vs_matrix": max(
            s["peak_memory_ratio_vs_matrix"] for name, s in steps.items() if name.startswith("train:")
        ),
        "evaluate_peak_memory_ratio_vs_matrix": steps["evaluate"]["peak_memory_ratio_vs_matrix"],
    }
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
