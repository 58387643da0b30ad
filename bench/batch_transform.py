"""Batch scoring throughput against raw onnxruntime on the same rows, measured in the same run.

The model is the one bench.predict_latency uses: a 100-tree random forest trained on the breast-cancer set by the
real pipeline (embedded AWS), served by onnxruntime. The rows: ``--rows`` rows drawn from that set, as a CSV with an
``id`` and the label carried through. Timed:

- batch path: what a chunk does with its bytes (``mlops.serving.batch_chunks.parse_chunk`` + ``score_rows``: CSV
  cells to the endpoint's typed values, the endpoint's validation per 1,000-row block, the model, the output, errors
  and capture lines), S3 left out;
- the whole chunk step (``score_chunk``, with its ranged GET and its four PUTs on the local S3), for scale;
- raw onnxruntime ``run`` on the same rows, in the same 1,000-row blocks, inputs prepared outside the timing.

``batch_rows_per_s_ratio_vs_onnxruntime`` = batch path rows/s over raw onnxruntime's (target >= 0.5). Where the time
goes, as rows/s ratios to the same raw onnxruntime: ``batch_without_capture_rows_per_s_ratio_vs_onnxruntime`` (the
path for a job with ``capture: false``), ``batch_jsonl_output_rows_per_s_ratio_vs_onnxruntime`` (the same job with
``output_format: jsonl``; the headline is the default, CSV) and ``csv_parse_rows_per_s_ratio_vs_onnxruntime``
(numpy's C CSV parser reading the same rows' numeric columns, and nothing else).

    python -m bench.batch_transform [--rows 20000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import statistics
import time
import warnings

import numpy as np

import local  # noqa: F401 - puts the core layer on sys.path, as Lambda does
from local.runs.datasets import breast_cancer_csv
from local.runs.training import run_training
from local.stack import LocalStack
from mlops.data import dataset
from mlops.records.batch import BatchJobRequest, BatchJobStart, ChunkItem
from mlops.records.events import ScoreChunkEvent
from mlops.serving import batch, batch_chunks
from mlops.serving.batch_jobs import new_job_id
from mlops.serving.cache import ModelCache
from mlops.serving.validation import validate_instances

MODEL = "bench-batch-rf"
FOREST = [{"estimator": "random_forest", "params": {"n_estimators": 100}}]
BLOCK = batch_chunks.SCORE_BLOCK_ROWS


def rows_csv(count: int, seed: int = 0) -> tuple[bytes, list[dict[str, float]]]:
    table = dataset.read_table(breast_cancer_csv())
    features = [c for c in table.names if c != "target"]
    picked = np.random.default_rng(seed).integers(0, table.rows, count).tolist()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", *features, "target"])
    instances = []
    for number, index in enumerate(picked):
        values = {name: float(table.column(name).values[index]) for name in features}
        instances.append(values)
        writer.writerow([f"r{number}", *map(repr, values.values()), int(table.column("target").values[index])])
    return out.getvalue().encode(), instances


def median_s(call, repeats: int) -> float:
    call()  # warm-up
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore")
    with LocalStack() as stack:
        os.environ.update(stack.environment())
        stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/bc.csv", Body=breast_cancer_csv())
        request = {
            "model_name": MODEL,
            "dataset_uri": f"s3://{stack.bucket}/datasets/bc.csv",
            "target": "target",
            "candidates": FOREST,
        }
        result = run_training(stack, request)
        if result.end_state != "Deployed":
            raise SystemExit(f"the pipeline did not deploy: {result.error}: {result.cause}")
        payload, instances = rows_csv(args.rows)
        key = "datasets/bench-batch.csv"
        stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=payload)
        registry = stack.registry()
        cache = ModelCache(registry, "onnx", 30.0, stack.bucket)
        start = BatchJobStart(
            job_id=new_job_id(),
            model_name=MODEL,
            request=BatchJobRequest(input_uri=f"s3://{stack.bucket}/{key}", chunk_bytes=batch_bytes(payload)),
        )
        job = batch.plan_job(start, registry, stack.bucket)
        assert job.chunks == 1, job.chunks
        served = cache.load_version(MODEL, job.version)
        names = payload[: job.header_end].decode().strip().split(",")
        body = payload[job.header_end :]

        def batch_path(planned=job) -> batch_chunks.ChunkOutcome:
            parsed = batch_chunks.parse_chunk(body, job.header_end, names)
            return batch_chunks.score_rows(planned, 0, parsed, served)

        uncaptured = job.model_copy(update={"capture": False})
        as_jsonl = job.model_copy(update={"output_format": "jsonl"})
        lines = body.decode().splitlines()
        numeric = [names.index(name) for name in served.schema.input_columns]

        def csv_parse() -> None:
            for start in range(0, len(lines), BLOCK):
                np.loadtxt(lines[start : start + BLOCK], delimiter=",", usecols=numeric, comments=None, ndmin=2)

        outcome = batch_path()
        assert outcome.scored == args.rows, (outcome.scored, outcome.invalid)
        model = served.model
        feeds = [
            {
                name: column if dtype is None else np.ascontiguousarray(column, dtype=dtype)
                for name, column, dtype in zip(
                    model.input_names,
                    validate_instances(instances[i : i + BLOCK], served.schema),
                    model.input_dtypes,
                    strict=True,
                )
            }
            for i in range(0, len(instances), BLOCK)
        ]

        def raw_onnxruntime() -> None:
            for feed in feeds:
                model.session.run(None, feed)

        event = ScoreChunkEvent(
            step="score", job=job, item=ChunkItem(chunk=0, start=job.header_end, end=job.size_bytes)
        )
        batch_s = median_s(batch_path, args.repeats)
        raw_s = median_s(raw_onnxruntime, args.repeats)
        uncaptured_s = median_s(lambda: batch_path(uncaptured), args.repeats)
        jsonl_s = median_s(lambda: batch_path(as_jsonl), args.repeats)
        parse_s = median_s(csv_parse, args.repeats)
        step_s = median_s(lambda: batch.score_chunk(event, cache, stack.bucket), args.repeats)
    results = {
        "batch_path_rows_per_s": args.rows / batch_s,
        "batch_chunk_step_rows_per_s_local_s3": args.rows / step_s,
        "raw_onnxruntime_rows_per_s_1000_row_blocks": args.rows / raw_s,
        "batch_rows_per_s_ratio_vs_onnxruntime": raw_s / batch_s,
        "batch_without_capture_rows_per_s_ratio_vs_onnxruntime": raw_s / uncaptured_s,
        "batch_jsonl_output_rows_per_s_ratio_vs_onnxruntime": raw_s / jsonl_s,
        "csv_parse_rows_per_s_ratio_vs_onnxruntime": raw_s / parse_s,
    }
    print(
        json.dumps(
            {
                "benchmark": "batch_transform",
                "model": "random forest, 100 trees, breast cancer (30 features), onnxruntime",
                "rows": args.rows,
                "output_format": job.output_format,
                "baseline": "raw onnxruntime run on the same rows in 1,000-row blocks, inputs prepared untimed",
                **{k: round(v, 4) for k, v in results.items()},
            },
            indent=2,
        )
    )


def batch_bytes(payload: bytes) -> int:
    """One chunk holding every row (the bench times one chunk's work)."""
    return max(BatchJobRequest.model_fields["chunk_bytes"].metadata[0].ge, len(payload) + 1)


if __name__ == "__main__":
    main()
