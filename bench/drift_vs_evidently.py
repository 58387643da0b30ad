"""Drift detection speed, peak memory and agreement against Evidently's DataDriftPreset, on the same data.

Data: 100,000 × 20 and 1,000,000 × 20 numeric columns (reference and current), of which five are shifted
clearly (mean, scale, tail), one slightly (0.12 σ: Evidently's normed-Wasserstein threshold 0.1 calls it drift, our
PSI floor does not, by design) and fourteen not at all. Both engines start from the same in-memory arrays and
produce per-column drift decisions; ours computes the reference's baseline first (what Prepare stores once per
version), so its time is the whole job. Each measurement runs in a fresh process (peak RSS is per process):

- speedup = Evidently's wall time / ours (also ours without the baseline: the scheduled check's own work);
- peak memory ratio = (peak RSS during the run − RSS before the data was loaded) / bytes of the two arrays;
- agreement = share of (size, column) pairs both engines decide the same way;
- false alarms on identical distributions (1,000 × 20, repeated): the share of columns each engine flags.

Evidently lives in its own virtual environment (.venv-bench, built here from bench/requirements-evidently.txt);
set BENCH_SKIP_EVIDENTLY=1, or let the build fail offline, to measure ours alone.

    python -m bench.drift_vs_evidently [--sizes 100000 1000000] [--fpr-repeats 20]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCH_VENV = ROOT / ".venv-bench"
REQUIREMENTS = Path(__file__).with_name("requirements-evidently.txt")
COLUMNS = [f"f{i:02d}" for i in range(20)]
SHIFTED = {"f00", "f01", "f02", "f03", "f04"}
BORDERLINE = {"f05"}


# ---- data ----------------------------------------------------------------------------------------------------------
def make_data(rows: int, seed: int, *, shifted: bool) -> np.ndarray:
    """(20, rows) float64: each row of the array is one column, contiguous."""
    rng = np.random.default_rng(seed)
    data = np.empty((len(COLUMNS), rows))
    makers = [
        lambda: rng.normal(0, 1, rows) + (0.5 if shifted else 0),  # mean shift
        lambda: rng.normal(0, 1, rows) * (1.5 if shifted else 1),  # scale
        lambda: rng.lognormal(0, 0.5, rows) * (1.3 if shifted else 1),  # multiplicative
        lambda: rng.uniform(0, 1, rows) + (0.2 if shifted else 0),  # range shift
        lambda: rng.exponential(1.6 if shifted else 1.0, rows),  # rate
        lambda: rng.normal(0, 1, rows) + (0.12 if shifted else 0),  # borderline: immaterial by our floor
    ]
    for index in range(len(COLUMNS)):
        if index < len(makers):
            data[index] = makers[index]()
        elif index % 3 == 0:
            data[index] = rng.normal(index, 2, rows)
        elif index % 3 == 1:
            data[index] = rng.gamma(2.0, 1.5, rows)
        else:
            data[index] = rng.integers(0, 50, rows).astype(float)  # discrete: ties
    return data


# ---- workers (one measurement per process) ---------------------------------------------------------------------------
def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker_ours(reference_path: str, current_path: str, repeats: int) -> dict:
    sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "core" / "python")]
    from mlops.monitoring import config, decision, window  # noqa: PLC0415 - after the path set-up, as the Lambda layer is
    from mlops.monitoring.reference import Reference, baseline_of_columns  # noqa: PLC0415

    before = _rss_bytes()
    reference, current = np.load(reference_path), np.load(current_path)
    data_bytes = reference.nbytes + current.nbytes
    reference_columns = dict(zip(COLUMNS, reference, strict=True))
    current_columns = dict(zip(COLUMNS, current, strict=True))
    timings, check_timings, result = [], [], None
    for _ in range(repeats):
        started = time.perf_counter()
        baseline = baseline_of_columns(reference_columns)
        built = time.perf_counter()
        compared = Reference.from_baseline(baseline)
        counts = window.Window(compared)
        window.add_columns(counts, current_columns, config.DriftConfig().chunk_rows)
        result = decision.evaluate(compared, counts, config.DriftConfig())
        finished = time.perf_counter()
        timings.append(finished - started)
        check_timings.append(finished - built)
    return {
        "seconds": statistics.median(timings),
        "check_seconds": statistics.median(check_timings),
        "peak_over_data": (_peak_bytes() - before) / data_bytes,
        "data_bytes": data_bytes,
        "drifted": sorted(decision.drifted_names(result)),
    }


def _evidently_drifted(snapshot: dict) -> list[str]:
    drifted = []
    for metric in snapshot["metrics"]:
        name = metric["metric_name"]
        if not name.startswith("ValueDrift("):
            continue
        config = metric["config"]
        method, threshold, value = config.get("method", ""), config["threshold"], metric["value"]
        is_p_value = "p_value" in method or "p-value" in method
        if (value < threshold) if is_p_value else (value >= threshold):
            drifted.append(config["column"])
    return sorted(drifted)


def worker_evidently(reference_path: str, current_path: str, repeats: int) -> dict:
    import pandas as pd  # noqa: PLC0415 - only in .venv-bench
    from evidently import Report  # noqa: PLC0415
    from evidently.presets import DataDriftPreset  # noqa: PLC0415

    before = _rss_bytes()
    reference, current = np.load(reference_path), np.load(current_path)
    data_bytes = reference.nbytes + current.nbytes
    reference_frame = pd.DataFrame(reference.T, columns=COLUMNS, copy=False)
    current_frame = pd.DataFrame(current.T, columns=COLUMNS, copy=False)
    timings, snapshot = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        snapshot = Report([DataDriftPreset()]).run(current_frame, reference_frame).dict()
        timings.append(time.perf_counter() - started)
    return {
        "seconds": statistics.median(timings),
        "peak_over_data": (_peak_bytes() - before) / data_bytes,
        "data_bytes": data_bytes,
        "drifted": _evidently_drifted(snapshot),
    }


def worker_false_alarms(engine: str, rows: int, repeats: int) -> dict:
    """Columns flagged on identical distributions (reference and current drawn alike), over several seeds."""
    flagged = 0
    for seed in range(repeats):
        reference = make_data(rows, 1_000 + seed, shifted=False)
        current = make_data(rows, 2_000 + seed, shifted=False)
        with tempfile.TemporaryDirectory() as folder:
            np.save(f"{folder}/r.npy", reference)
            np.save(f"{folder}/c.npy", current)
            run = worker_ours if engine == "ours" else worker_evidently
            flagged += len(run(f"{folder}/r.npy", f"{folder}/c.npy", 1)["drifted"])
    return {"false_alarm_rate": flagged / (repeats * len(COLUMNS))}


# ---- driver ----------------------------------------------------------------------------------------------------------
def evidently_python() -> tuple[Path | None, str]:
    """The benchmark venv's interpreter, built on first use; (None, why) when it cannot be."""
    if os.environ.get("BENCH_SKIP_EVIDENTLY"):
        return None, "BENCH_SKIP_EVIDENTLY is set"
    python = BENCH_VENV / "bin" / "python"
    marker = BENCH_VENV / ".installed"
    if marker.exists() and marker.read_text() == REQUIREMENTS.read_text():
        return python, ""
    print(f"building {BENCH_VENV.name} from {REQUIREMENTS.relative_to(ROOT)} (once) ...", file=sys.stderr, flush=True)
    try:
        interpreter = subprocess.run(
            [str(ROOT / "tools" / "find_python.sh")], capture_output=True, text=True, check=True
        ).stdout.strip()
        subprocess.run([interpreter, "-m", "venv", str(BENCH_VENV)], check=True, capture_output=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)],
            check=True,
            capture_output=True,
            text=True,
            timeout=1_200,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        return None, f"the Evidently environment could not be built: {str(detail).strip().splitlines()[-1:]}"
    marker.write_text(REQUIREMENTS.read_text())
    return python, ""


def run_worker(python: Path | str, *arguments: str) -> dict:
    completed = subprocess.run(
        [str(python), str(Path(__file__).resolve()), "worker", *arguments],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=3_600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"worker {arguments} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def label(rows: int) -> str:
    return f"{rows // 1_000_000}m" if rows >= 1_000_000 else f"{rows // 1_000}k"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--fpr-rows", type=int, default=1_000)
    parser.add_argument("--fpr-repeats", type=int, default=20)
    args = parser.parse_args(argv)
    evidently, skipped = evidently_python()
    if evidently is None:
        print(f"drift_vs_evidently: Evidently skipped ({skipped}); measuring ours only", file=sys.stderr)
    figures: dict[str, object] = {"benchmark": "drift_vs_evidently"}
    agreements: list[bool] = []
    with tempfile.TemporaryDirectory() as folder:
        for rows in args.sizes:
            reference_path, current_path = f"{folder}/reference-{rows}.npy", f"{folder}/current-{rows}.npy"
            np.save(reference_path, make_data(rows, 1, shifted=False))
            np.save(current_path, make_data(rows, 2, shifted=True))
            repeats = 5 if rows <= 200_000 else 3
            ours = run_worker(sys.executable, "ours", reference_path, current_path, str(repeats))
            size = label(rows)
            figures[f"drift_seconds_ours_{size}"] = round(ours["seconds"], 4)
            figures[f"drift_check_seconds_ours_{size}"] = round(ours["check_seconds"], 4)
            figures[f"drift_peak_memory_ratio_{size}"] = round(ours["peak_over_data"], 3)
            figures[f"drift_flagged_ours_{size}"] = ours["drifted"]
            print(f"ours {size}: {ours['seconds']:.3f} s, drifted {ours['drifted']}", file=sys.stderr, flush=True)
            if evidently is None:
                continue
            theirs = run_worker(evidently, "evidently", reference_path, current_path, "2" if rows <= 200_000 else "1")
            print(f"evidently {size}: {theirs['seconds']:.1f} s, drifted {theirs['drifted']}", file=sys.stderr)
            figures[f"drift_seconds_evidently_{size}"] = round(theirs["seconds"], 3)
            figures[f"drift_speedup_vs_evidently_{size}"] = round(theirs["seconds"] / ours["seconds"], 1)
            figures[f"drift_check_speedup_vs_evidently_{size}"] = round(theirs["seconds"] / ours["check_seconds"], 1)
            figures[f"drift_peak_memory_ratio_evidently_{size}"] = round(theirs["peak_over_data"], 3)
            figures[f"drift_flagged_evidently_{size}"] = theirs["drifted"]
            agreements += [(c in ours["drifted"]) == (c in theirs["drifted"]) for c in COLUMNS]
    figures["drift_expected_shifted"] = sorted(SHIFTED)
    if agreements:
        figures["drift_column_agreement_with_evidently"] = round(sum(agreements) / len(agreements), 3)
    ours_fpr = run_worker(sys.executable, "false-alarms", "ours", str(args.fpr_rows), str(args.fpr_repeats))
    figures[f"drift_false_alarm_rate_ours_{label(args.fpr_rows)}"] = ours_fpr["false_alarm_rate"]
    if evidently is not None:
        theirs_fpr = run_worker(evidently, "false-alarms", "evidently", str(args.fpr_rows), str(args.fpr_repeats))
        figures[f"drift_false_alarm_rate_evidently_{label(args.fpr_rows)}"] = theirs_fpr["false_alarm_rate"]
    else:
        figures["evidently_skipped"] = skipped
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        kind = sys.argv[2]
        if kind == "false-alarms":
            print(json.dumps(worker_false_alarms(sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))))
        else:
            run = worker_ours if kind == "ours" else worker_evidently
            print(json.dumps(run(sys.argv[3], sys.argv[4], int(sys.argv[5]))))
    else:
        main()
