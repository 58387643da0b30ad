"""Predict latency and cold start, as ratios against baselines measured in the same run.

Warm: the predict function's handler (API Gateway event in, JSON out, capture included, written to a file as Lambda
writes its stdout to a pipe) with the ONNX runtime, for 1 row and 100 rows, against (a) the same handler serving the
scikit-learn pipeline (a handler that uses scikit-learn), (b) raw scikit-learn ``predict_proba`` and (c) raw
onnxruntime ``run`` on the same rows.
The model is a 100-tree random forest trained on the breast-cancer set by the real pipeline (embedded AWS).
Batch: the same handler on requests of 1,000 rows (the most a request takes), rows per second against raw
onnxruntime ``run`` on the same 1,000 rows: ``predict_100_rows_ratio_vs_onnxruntime`` (handler time over onnxruntime's,
100 rows as ``instances``; target <= 3) and ``handler_1000_rows_per_s_ratio_vs_onnxruntime`` (handler rows/s over
onnxruntime's). The same rows as a columnar request (``{"inputs": {feature: [...]}}``):
``predict_100_rows_columnar_ratio_vs_onnxruntime`` and ``handler_1000_rows_columnar_per_s_ratio_vs_onnxruntime``.
Where the handler's time goes, as ratios to the same raw ``run``: ``json_parse_100_rows_ratio_vs_onnxruntime`` (orjson
reading the 100-row body alone) and ``validation_100_rows_ratio_vs_onnxruntime`` (the endpoint's validation alone).
Batch scoring's own figure, ``batch_rows_per_s_ratio_vs_onnxruntime``, is bench.batch_transform's.
Cold start: a fresh interpreter imports the handler module and serves its first prediction, ONNX runtime
versus scikit-learn runtime (median of several processes).

    python -m bench.predict_latency [--repeats 2000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import local  # noqa: F401 - puts the core layer on sys.path, as Lambda does
from local.runs.datasets import breast_cancer_csv
from local.runs.training import run_training
from local.stack import LocalStack
from mlops.registry import documents
from mlops.serving import http
from mlops.serving.cache import ModelCache
from mlops.serving.validation import validate_instances
from mlops.storage import objects
from mlops.storage.objects import S3Uri

ROOT = Path(__file__).resolve().parent.parent
MODEL = "bench-rf"
FOREST = [{"estimator": "random_forest", "params": {"n_estimators": 100}}]


class Context:
    function_name = "bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    memory_limit_in_mb = 1024
    aws_request_id = "bench-request"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def percentiles(samples: list[float]) -> tuple[float, float]:
    values = np.array(samples) * 1e6
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def time_calls(call, repeats: int) -> list[float]:
    for _ in range(min(50, repeats)):  # warm-up
        call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def onnx_feeds(model, columns: list[np.ndarray]) -> dict[str, np.ndarray]:
    """The model's inputs as the serving runtime feeds them, prepared outside the timing (the raw baseline)."""
    return {
        name: column if dtype is None else np.ascontiguousarray(column, dtype=dtype)
        for name, column, dtype in zip(model.input_names, columns, model.input_dtypes, strict=True)
    }


def batch_figures(app, cache: ModelCache, served, row: dict, *, repeats: int, sink) -> dict[str, float]:
    """A large batch: requests of 1,000 rows through the handler, as rows and as columns, against onnxruntime on
    the same rows."""
    batch = [row] * 1000
    feeds = onnx_feeds(served.model, validate_instances(batch, served.schema))
    app._cache = cache
    batch_repeats = max(20, repeats // 20)
    raw_s = statistics.median(time_calls(lambda: served.model.session.run(None, feeds), batch_repeats))
    figures = {"raw_onnxruntime_rows_per_s_1000_rows": len(batch) / raw_s}
    for label, event in (("", api_event(batch)), ("_columnar", api_event(batch, columnar=True))):
        with contextlib.redirect_stdout(sink):
            handler_s = statistics.median(time_calls(lambda e=event: app.lambda_handler(e, Context()), batch_repeats))
        figures[f"handler_onnx{label}_rows_per_s_1000_rows"] = len(batch) / handler_s
        figures[f"handler_1000_rows{label}_per_s_ratio_vs_onnxruntime"] = raw_s / handler_s
    return figures


def columnar_figures(app, cache: ModelCache, instances: list[dict], raw_onnx_us: float, *, repeats: int, sink):
    """The 100 rows as a columnar request, and the parts of the handler's time as ratios to raw onnxruntime."""
    app._cache = cache
    event = api_event(instances, columnar=True)
    with contextlib.redirect_stdout(sink):
        columnar = percentiles(time_calls(lambda: app.lambda_handler(event, Context()), repeats))
    body = api_event(instances)["body"]
    parse = percentiles(time_calls(lambda: http.loads(body), repeats))
    schema = cache.choose(MODEL).schema
    validation = percentiles(time_calls(lambda: validate_instances(instances, schema), repeats))
    return {
        "handler_onnx_p50_us_100_rows_columnar": columnar[0],
        "predict_100_rows_columnar_ratio_vs_onnxruntime": columnar[0] / raw_onnx_us,
        "json_parse_100_rows_ratio_vs_onnxruntime": parse[0] / raw_onnx_us,
        "validation_100_rows_ratio_vs_onnxruntime": validation[0] / raw_onnx_us,
    }


def api_event(rows: list[dict], *, columnar: bool = False) -> dict:
    body = {"inputs": {name: [row[name] for row in rows] for name in rows[0]}} if columnar else {"instances": rows}
    return {
        "resource": "/models/{name}/predict",
        "path": f"/models/{MODEL}/predict",
        "httpMethod": "POST",
        "pathParameters": {"name": MODEL},
        "requestContext": {"requestId": "bench"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


COLD_PROBE = """
import os, sys, time
sys.path[:0] = [{root!r}, {layer!r}]
os.environ.update({environment!r})
import functions.predict.app  # the handler module's init (imports onnxruntime for the onnx runtime)
from mlops.data.dataset import Schema
from mlops.serving.runtime import OnnxModel, SklearnModel
from mlops.serving.validation import validate_instances
import json
schema = Schema.from_dict(json.loads(open({schema_path!r}).read()))
payload = open({artifact_path!r}, "rb").read()
model = (OnnxModel if {runtime!r} == "onnx" else SklearnModel)(payload, schema)
model.predict(validate_instances(json.loads(open({rows_path!r}).read()), schema))
"""


def cold_start_s(runtime: str, files: dict[str, str], processes: int) -> float:
    environment = {
        "SERVING_RUNTIME": runtime,
        "POWERTOOLS_SERVICE_NAME": "bench",
        "POWERTOOLS_METRICS_NAMESPACE": "bench",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    code = COLD_PROBE.format(
        root=str(ROOT),
        layer=str(ROOT / "layers" / "core" / "python"),
        environment=environment,
        runtime=runtime,
        schema_path=files["schema"],
        rows_path=files["rows"],
        artifact_path=files[runtime],
    )
    timings = []
    for _ in range(processes):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--cold-processes", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore")
    results: dict[str, float] = {}
    with LocalStack() as stack, tempfile.TemporaryDirectory() as scratch:
        os.environ.update(stack.environment())
        os.environ.update(
            {
                "SERVING_RUNTIME": "onnx",
                "ALIAS_REFRESH_S": "30",
                "CAPTURE_SAMPLE_RATE": "1.0",
                "POWERTOOLS_SERVICE_NAME": "bench",
                "POWERTOOLS_METRICS_NAMESPACE": "bench",
            }
        )
        stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/bc.csv", Body=breast_cancer_csv())
        result = run_training(
            stack,
            {
                "model_name": MODEL,
                "dataset_uri": f"s3://{stack.bucket}/datasets/bc.csv",
                "target": "target",
                "candidates": FOREST,
            },
        )
        if result.end_state != "Deployed":
            raise SystemExit(f"the pipeline did not deploy: {result.error}: {result.cause}")
        from functions.predict import app  # noqa: PLC0415 - after the stack's settings are in the environment

        registry = stack.registry()
        record = registry.get_version(MODEL, 1)
        row = documents.input_example_of(record)
        caches = {runtime: ModelCache(registry, runtime, 30.0, stack.bucket) for runtime in ("onnx", "sklearn")}
        served = {runtime: cache.choose(MODEL) for runtime, cache in caches.items()}
        sklearn_model = objects.load_model(
            S3Uri.parse(record.artifact_uri), record.artifact_sha256, record.sklearn_version
        )
        onnx_model = served["onnx"].model
        sink = open(os.devnull, "w")  # noqa: SIM115 - the handler's stdout for the whole run; closed below
        for rows in (1, 100):
            instances = [row] * rows
            event = api_event(instances)
            columns = validate_instances(instances, served["onnx"].schema)
            matrix = np.hstack(columns).astype(object)
            feeds = onnx_feeds(onnx_model, columns)
            handler = {}
            for runtime in ("onnx", "sklearn"):
                app._cache = caches[runtime]
                with contextlib.redirect_stdout(sink):  # capture lines and logs: written, not printed
                    handler[runtime] = percentiles(
                        time_calls(
                            lambda e=event: app.lambda_handler(e, Context()),
                            args.repeats if runtime == "onnx" else args.repeats // 10,
                        )
                    )
            raw_sklearn = percentiles(time_calls(lambda m=matrix: sklearn_model.predict_proba(m), args.repeats // 10))
            raw_onnx = percentiles(time_calls(lambda f=feeds: onnx_model.session.run(None, f), args.repeats))
            suffix = "" if rows == 1 else f"_{rows}_rows"
            results.update(
                {
                    f"handler_onnx_p50_us{suffix}": handler["onnx"][0],
                    f"handler_onnx_p99_us{suffix}": handler["onnx"][1],
                    f"handler_sklearn_p50_us{suffix}": handler["sklearn"][0],
                    f"handler_sklearn_p99_us{suffix}": handler["sklearn"][1],
                    f"raw_sklearn_predict_proba_p50_us{suffix}": raw_sklearn[0],
                    f"raw_onnxruntime_run_p50_us{suffix}": raw_onnx[0],
                    f"predict_p50_ratio_vs_sklearn{suffix}": handler["onnx"][0] / handler["sklearn"][0],
                    f"predict_p50_ratio_vs_raw_sklearn{suffix}": handler["onnx"][0] / raw_sklearn[0],
                    f"predict_p50_ratio_vs_onnxruntime{suffix}": handler["onnx"][0] / raw_onnx[0],
                }
            )
            if rows == 100:
                results.update(
                    columnar_figures(app, caches["onnx"], instances, raw_onnx[0], repeats=args.repeats, sink=sink)
                )
        results.update(batch_figures(app, caches["onnx"], served["onnx"], row, repeats=args.repeats, sink=sink))
        sink.close()
        results["predict_100_rows_ratio_vs_onnxruntime"] = results["predict_p50_ratio_vs_onnxruntime_100_rows"]
        files = {
            "schema": f"{scratch}/schema.json",
            "rows": f"{scratch}/rows.json",
            "onnx": f"{scratch}/model.onnx",
            "sklearn": f"{scratch}/model.joblib",
        }
        Path(files["schema"]).write_text(json.dumps(documents.schema_of(record)))
        Path(files["rows"]).write_text(json.dumps([row]))
        Path(files["onnx"]).write_bytes(objects.get_bytes(S3Uri.parse(record.serving.onnx_uri)))
        Path(files["sklearn"]).write_bytes(objects.get_bytes(S3Uri.parse(record.artifact_uri)))
        cold = {runtime: cold_start_s(runtime, files, args.cold_processes) for runtime in ("onnx", "sklearn")}
        results.update(
            cold_start_onnx_s=cold["onnx"],
            cold_start_sklearn_s=cold["sklearn"],
            cold_start_ratio_vs_sklearn_handler=cold["onnx"] / cold["sklearn"],
        )
    print(
        json.dumps(
            {
                "benchmark": "predict_latency",
                "model": "random forest, 100 trees, breast cancer (30 features)",
                "baselines": "same handler with the scikit-learn runtime; raw predict_proba; raw onnxruntime run",
                "json": "orjson" if http.orjson is not None else "standard library (orjson not installed)",
                **{k: round(v, 4) for k, v in results.items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
