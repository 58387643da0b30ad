"""The SDK's cost: `client.predict` over the bare HTTP call it makes, `import mlops_client` in fresh interpreters, and
register-to-deployed: a model fitted in the notebook registered with `client.register_model` against the same model
trained by the pipeline.

Against one `python -m local up --seed` started here: the bare call is urllib POSTing a columnar body serialized
beforehand (what the SDK sends), the SDK call is `client.predict(name, DataFrame)` (converting the frame, the request,
and the DataFrame answer), interleaved in the same run, medians of each. Import times are the minimum of fresh
interpreters: `import mlops_client` alone, after pandas was imported (what a notebook that already uses pandas pays
for the SDK on top), and both together.

Register-to-deployed is the wall time from the call (`register_model` for the notebook's StandardScaler +
LogisticRegression, `train` with the same estimator as the pipeline's one candidate, on the same seeded dataset)
to the first prediction production answers with the new version; alternating, each model under a new name (no
champion to beat), medians.

python -m bench.sdk [--repeats 30] [--deploy-repeats 2]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = "breast-cancer"
DATASET_URI = "s3://mlops-local-artifactsbucket/datasets/breast-cancer.csv"  # what `local up --seed` uploads


def start_local_up(directory: Path) -> tuple[subprocess.Popen, str, str]:
    log = directory / "up.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "local", "up", "--port", "0", "--seed", "--ephemeral"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        text = log.read_text()
        url = re.search(r"Local API on (http://127\.0\.0\.1:\d+)", text)
        key = re.search(r"x-api-key: (local-[0-9a-f]+)", text)
        if url and key:
            return process, url.group(1), key.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"local up exited with {process.returncode}:\n{text}")
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("local up did not start in 300 s")


def bare_call(url: str, api_key: str, body: bytes) -> bytes:
    request = urllib.request.Request(
        f"{url}/models/{MODEL}/predict",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json", "x-api-key": api_key},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


def predict_ratio(url: str, api_key: str, rows: int, repeats: int) -> dict[str, float]:
    import pandas

    from local.runs.datasets import breast_cancer_csv
    from mlops_client import Client

    table = pandas.read_csv(io.BytesIO(breast_cancer_csv())).drop(columns=["target"])
    frame = pandas.concat([table] * (rows // len(table) + 1), ignore_index=True).iloc[:rows]
    body = json.dumps({"inputs": {name: frame[name].tolist() for name in frame.columns}}).encode()
    client = Client(url, api_key=api_key)
    client.predict(MODEL, frame)  # warm: the model is loaded, the connection paths are hot
    bare_call(url, api_key, body)
    sdk_s, bare_s = [], []

    def bare() -> None:
        start = time.perf_counter()
        bare_call(url, api_key, body)
        bare_s.append(time.perf_counter() - start)

    def sdk() -> None:
        start = time.perf_counter()
        scored = client.predict(MODEL, frame)
        sdk_s.append(time.perf_counter() - start)
        assert len(scored) == rows

    # interleaved, so load on the machine falls on both sides alike, and in alternating order, so neither side is
    # always the call that follows the other (and meets the server still finishing the previous request)
    for index in range(repeats):
        for call in (bare, sdk) if index % 2 == 0 else (sdk, bare):
            call()
    sdk, bare = statistics.median(sdk_s), statistics.median(bare_s)
    return {"sdk_ms": sdk * 1000, "http_ms": bare * 1000, "ratio": sdk / bare}


def import_ms(timed: str, before: str = "pass", runs: int = 7) -> float:
    """The least wall time of ``timed`` (imports) in a fresh interpreter, after ``before`` (not timed)."""
    probe = f"{before}; import time; t = time.perf_counter(); {timed}; print(time.perf_counter() - t)"
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", probe]
    timings = [
        float(subprocess.run(command, env=environment, capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    ]
    return min(timings) * 1000


def pandas_loaded_by_sdk() -> bool:
    probe = "import sys, mlops_client; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return out.strip() == "True"


def register_to_deployed(url: str, api_key: str, repeats: int) -> dict[str, float]:
    """Seconds from the call to production answering with the new version: the notebook's model registered, and the
    same estimator trained by the pipeline (the baseline), alternating."""
    import pandas
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from local.runs.datasets import breast_cancer_csv
    from mlops_client import Client

    table = pandas.read_csv(io.BytesIO(breast_cancer_csv()))
    features, labels = table.drop(columns=["target"]), table["target"]
    fitted = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)).fit(features.to_numpy(), labels)
    candidates = [{"estimator": "logistic_regression", "params": {"C": 1.0, "max_iter": 2000}}]
    client = Client(url, api_key=api_key, timeout_s=120)
    registered_s, trained_s = [], []

    def deployed(name: str, start: float, run) -> float:
        run.wait(timeout_s=900)
        if run.status != "SUCCEEDED":
            raise RuntimeError(f"{name}: the run ended {run.status}: {run.error}")
        answer = client.predict(name, features.iloc[:1].to_dict("records"))
        if answer[0]["version"] != run.version:
            raise RuntimeError(f"{name}: production answered with v{answer[0]['version']}, not v{run.version}")
        return time.perf_counter() - start

    def register(index: int) -> None:
        name, start = f"bench-byom-{index}", time.perf_counter()
        registered_s.append(
            deployed(name, start, client.register_model(name, fitted, target="target", dataset_uri=DATASET_URI))
        )

    def train(index: int) -> None:
        name, start = f"bench-trained-{index}", time.perf_counter()
        run = client.train(model_name=name, dataset_uri=DATASET_URI, target="target", candidates=candidates)
        trained_s.append(deployed(name, start, run))

    for index in range(repeats):
        for step in (register, train) if index % 2 == 0 else (train, register):
            step(index)
    registered, trained = statistics.median(registered_s), statistics.median(trained_s)
    return {"registered_s": registered, "trained_s": trained, "ratio": registered / trained}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="interleaved pairs of calls per row count")
    parser.add_argument("--deploy-repeats", type=int, default=2, help="alternating register/train pairs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sdk-") as directory:
        process, url, api_key = start_local_up(Path(directory))
        try:
            one = predict_ratio(url, api_key, 1, args.repeats)
            thousand = predict_ratio(url, api_key, 1000, max(5, args.repeats // 3))
            to_deployed = register_to_deployed(url, api_key, args.deploy_repeats)
        finally:
            process.terminate()
            process.wait(timeout=60)
    print(
        json.dumps(
            {
                "benchmark": "sdk",
                "sdk_predict_1_row_ratio_vs_http": round(one["ratio"], 3),
                "sdk_predict_1_row_ms": round(one["sdk_ms"], 2),
                "http_predict_1_row_ms": round(one["http_ms"], 2),
                "sdk_predict_1000_rows_ratio_vs_http": round(thousand["ratio"], 3),
                "sdk_predict_1000_rows_ms": round(thousand["sdk_ms"], 2),
                "http_predict_1000_rows_ms": round(thousand["http_ms"], 2),
                "sdk_import_ms": round(import_ms("import mlops_client"), 1),
                "sdk_import_after_pandas_ms": round(import_ms("import mlops_client", before="import pandas"), 1),
                "sdk_with_pandas_import_ms": round(import_ms("import pandas, mlops_client"), 1),
                "sdk_imports_pandas": pandas_loaded_by_sdk(),
                "byom_register_to_deployed_ratio_vs_trained": round(to_deployed["ratio"], 3),
                "byom_register_to_deployed_s": round(to_deployed["registered_s"], 2),
                "trained_to_deployed_s": round(to_deployed["trained_s"], 2),
                "note": "medians of interleaved calls (alternating order) against one local up; imports: the least "
                "of 7 fresh interpreters; register-to-deployed: call to production's first answer with the version, "
                "the notebook's model registered vs the same estimator trained by the pipeline, alternating, medians",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
