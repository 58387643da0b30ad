"""Run every benchmark and end with one JSON object of the figures (each a ratio or measurement of this run).

python -m bench            (make bench)
"""

from __future__ import annotations

import json
import subprocess
import sys

# drift_vs_evidently builds its own .venv-bench for Evidently; without it (offline, BENCH_SKIP_EVIDENTLY=1) it says so
# on stderr and measures ours alone.
BENCHMARKS = (
    ["bench.pipeline_overhead"],
    ["bench.predict_latency"],
    ["bench.batch_transform"],  # batch_rows_per_s_ratio_vs_onnxruntime: the BatchTransform chunk path
    ["bench.drift_vs_evidently"],
    ["bench.prepare"],  # prepare_peak_memory_ratio_vs_matrix, prepare_speed_ratio_vs_pandas
    ["bench.step_memory"],  # each training step's memory per CSV MiB and the largest CSV its MemorySize holds
    # 100 MiB through the SageMaker path locally vs Lambda (1 GB needs ~20 GiB in one local process: run it by hand)
    ["bench.sagemaker_path", "--sizes-mb", "100"],
    ["bench.local_parallel"],  # local_parallel_speedup: 8 Train invocations in worker processes vs serially
    ["bench.tuning"],  # trials_per_minute: a search of N trials through the local pipeline
    # quality_ratio_vs_hgb: the default run's holdout score over a hand-written HistGradientBoosting's, and the lift
    # over the trivial baseline, on bundled and generated tables
    ["bench.quality"],
    # guided_over_random_best_ratio: the guided search's best validation score at 20 trials over random sampling's
    ["bench.search"],
    ["bench.sdk"],  # sdk_predict_*_ratio_vs_http: client.predict over the bare HTTP call; the SDK's import time
    # estimated_performance_error (CBPE vs the true accuracy of shifted windows), its false-alarm rate on unshifted
    # ones, and evaluate_time_ratio_with_importance (the Evaluate step with permutation importance over without)
    ["bench.estimated_performance"],
)


def main() -> None:
    combined: dict[str, object] = {}
    for module in BENCHMARKS:
        completed = subprocess.run([sys.executable, "-m", *module], capture_output=True, text=True, check=True)
        print(completed.stdout, end="", flush=True)
        document = json.loads(completed.stdout[completed.stdout.index("{") :])
        name = document.pop("benchmark")
        combined.update({key: value for key, value in document.items() if not isinstance(value, str)})
        combined.setdefault("benchmarks", []).append(name)  # type: ignore[union-attr]
    print(json.dumps(combined, indent=2))


if __name__ == "__main__":
    main()
