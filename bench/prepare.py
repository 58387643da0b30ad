"""Prepare at size: the real Prepare step on a generated 1M-row x 20-column CSV (15 numeric columns, 4 categorical
of 3 to 2,000 values, a binary label), against pandas.read_csv on the same file.

Each side runs in its own subprocess so its peak RSS (resource.getrusage maxrss) is its own:
- ours: mlops.training.prepare.prepare, S3 replaced by local files at its edge (the dataset streamed through the same
  hashing stream as an S3 body; splits and baseline written to a directory): read, column roles, seeded split,
  the typed .npz splits and the drift baseline; and the reader alone, timed like pandas;
- pandas (the baseline, from .venv-bench, never a Lambda dependency): pandas.read_csv alone.

Prints a JSON object with
- prepare_peak_memory_ratio_vs_matrix: Prepare's peak RSS (imports included) over the float64 feature matrix
  (rows x 19 inputs x 8 bytes); target <= 3;
- prepare_speed_ratio_vs_pandas: our reader's rows/s over pandas.read_csv's; target >= 0.5.

    python -m bench.prepare [--rows 1000000]
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NUMERIC = 15
CATEGORY_SIZES = (3, 20, 300, 2000)
GENERATE_BLOCK = 100_000


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    header = [f"x{i:02d}" for i in range(NUMERIC)] + [f"c{i}" for i in range(len(CATEGORY_SIZES))] + ["label"]
    with path.open("w") as handle:
        handle.write(",".join(header) + "\n")
        for start in range(0, rows, GENERATE_BLOCK):
            n = min(GENERATE_BLOCK, rows - start)
            numbers = rng.normal(0, 100, size=(n, NUMERIC))
            buffer = io.StringIO()
            np.savetxt(buffer, numbers, fmt="%.4f", delimiter=",")
            others = [[f"v{v}" for v in rng.zipf(1.4, n).clip(max=size).tolist()] for size in CATEGORY_SIZES]
            others.append(np.where(numbers[:, 0] + numbers[:, 1] > 0, "yes", "no").tolist())
            tails = map(",".join, zip(*others, strict=True))
            lines = buffer.getvalue().splitlines()
            handle.write("\n".join(f"{a},{b}" for a, b in zip(lines, tails, strict=True)) + "\n")


def _peak_rss_bytes() -> int:
    """Peak RSS of this process: getrusage's maxrss (kilobytes on Linux). Linux keeps the high-water mark across
    exec, so the parent generates no data itself: a worker's figure starts from the parent's small one."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _vm_hwm_bytes() -> int | None:
    """The kernel's own high-water mark of this process image (reset at exec), as a cross-check."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def worker_ours(path: str) -> dict:
    """The real Prepare step (mlops.training.prepare.prepare) with its S3 edge on local files (bench.local_storage):
    the dataset streamed from the file through the same hashing stream as an S3 body, the splits and baseline
    written beside it."""
    sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "core" / "python")]
    from bench.local_storage import storage_on  # noqa: PLC0415
    from mlops.records.request import TrainingRequest  # noqa: PLC0415
    from mlops.settings import Settings  # noqa: PLC0415
    from mlops.storage import objects  # noqa: PLC0415
    from mlops.training.prepare import prepare  # noqa: PLC0415

    written = storage_on(Path(path).parent)  # the dataset is s3://bench/table.csv: <directory>/table.csv
    request = TrainingRequest.model_validate(
        {"model_name": "bench", "dataset_uri": "s3://bench/table.csv", "target": "label"}
    )
    baseline_rss = _peak_rss_bytes()
    started, cpu_started = time.perf_counter(), time.process_time()
    prepared = prepare(
        request,
        "arn:aws:states:us-east-1:123456789012:execution:pipeline:bench",
        Settings("bench", "registry", "aliases", "audit", "monitor"),
    )
    total_s, total_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    schema = objects.get_verified_json(prepared.dataset.schema_ref.uri, prepared.dataset.schema_ref.sha256)
    return {
        "rows": prepared.dataset.rows,
        "inputs": prepared.dataset.columns - 1,
        "features": len(schema["features"]),
        "prepare_s": total_s,
        "prepare_cpu_s": total_cpu_s,
        "peak_rss_bytes": _peak_rss_bytes(),
        "vm_hwm_bytes": _vm_hwm_bytes(),
        "rss_before_prepare_bytes": baseline_rss,
        "written_bytes": written,
        "split_rows": prepared.dataset.split_sizes,
        "roles": {name: column["role"] for name, column in schema["columns"].items()},
    }


def worker_read(path: str) -> dict:
    """The reader alone (the read part of Prepare), timed like pandas.read_csv."""
    sys.path.insert(0, str(ROOT / "layers" / "core" / "python"))
    from mlops.data import reader  # noqa: PLC0415

    started, cpu_started = time.perf_counter(), time.process_time()
    table = reader.read_dataset(Path(path))
    return {
        "rows": table.rows,
        "read_s": time.perf_counter() - started,
        "read_cpu_s": time.process_time() - cpu_started,
        "typed_bytes": table.nbytes,
        "peak_rss_bytes": _peak_rss_bytes(),
    }


def worker_pandas(path: str) -> dict:
    import pandas  # noqa: PLC0415 - only in .venv-bench

    started, cpu_started = time.perf_counter(), time.process_time()
    frame = pandas.read_csv(path)
    return {
        "rows": len(frame),
        "read_s": time.perf_counter() - started,
        "read_cpu_s": time.process_time() - cpu_started,
        "peak_rss_bytes": _peak_rss_bytes(),
    }


def run_worker(python: str | Path, kind: str, path: Path) -> dict:
    completed = subprocess.run(
        [str(python), str(Path(__file__).resolve()), "worker", kind, str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=3_600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "worker":
        kind, path = sys.argv[2], sys.argv[3]
        if kind == "generate":
            rows, _, target = path.partition(":")
            generate(Path(target), int(rows))
            print(json.dumps({"generated": target}))
            return
        workers = {"ours": worker_ours, "read": worker_read, "pandas": worker_pandas}
        print(json.dumps(workers[kind](path)))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    from bench.drift_vs_evidently import evidently_python  # noqa: PLC0415 - the venv with pandas

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "table.csv"
        started = time.perf_counter()
        run_worker(sys.executable, "generate", f"{args.rows}:{path}")  # not here: see _peak_rss_bytes
        print(
            f"generated {path.stat().st_size / 2**20:.0f} MiB in {time.perf_counter() - started:.1f} s", file=sys.stderr
        )
        ours = run_worker(sys.executable, "ours", path)
        read = run_worker(sys.executable, "read", path)
        pandas_python, why = evidently_python()
        theirs = run_worker(pandas_python, "pandas", path) if pandas_python else None
        csv_bytes = path.stat().st_size
    matrix_bytes = ours["rows"] * ours["inputs"] * 8
    document = {
        "benchmark": "prepare",
        "baseline": "pandas.read_csv on the same file (memory: the float64 feature matrix, rows x inputs x 8 bytes)",
        "rows": ours["rows"],
        "csv_mib": round(csv_bytes / 2**20, 1),
        "matrix_mib": round(matrix_bytes / 2**20, 1),
        "typed_columns_mib": round(read["typed_bytes"] / 2**20, 1),
        "prepare_peak_rss_mib": round(ours["peak_rss_bytes"] / 2**20, 1),
        "rss_before_prepare_mib": round(ours["rss_before_prepare_bytes"] / 2**20, 1),
        "vm_hwm_mib": round(ours["vm_hwm_bytes"] / 2**20, 1) if ours["vm_hwm_bytes"] else None,
        "prepare_s": round(ours["prepare_s"], 2),
        "prepare_cpu_s": round(ours["prepare_cpu_s"], 2),
        "split_npz_mib": {k: round(v / 2**20, 1) for k, v in ours["written_bytes"].items() if k.endswith(".npz")},
        "roles": ours["roles"],
        "read_s": round(read["read_s"], 2),
        "read_cpu_s": round(read["read_cpu_s"], 2),
        "read_rows_per_s": round(read["rows"] / read["read_s"]),
        "prepare_peak_memory_ratio_vs_matrix": round(ours["peak_rss_bytes"] / matrix_bytes, 3),
    }
    if theirs is not None:
        document.update(
            pandas_read_s=round(theirs["read_s"], 2),
            pandas_read_cpu_s=round(theirs["read_cpu_s"], 2),
            prepare_speed_ratio_vs_pandas_cpu=round(theirs["read_cpu_s"] / read["read_cpu_s"], 3),
            pandas_peak_rss_mib=round(theirs["peak_rss_bytes"] / 2**20, 1),
            prepare_speed_ratio_vs_pandas=round(
                (read["rows"] / read["read_s"]) / (theirs["rows"] / theirs["read_s"]), 3
            ),
        )
    else:
        document["pandas"] = f"not measured: {why}"
    print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
