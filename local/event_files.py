"""Write events/<function>/<case>.json from a real execution: the exact payloads Step Functions sent.

The files serve `sam local invoke <Function> -e events/...` and the tests; regenerate them with
`python -m local write-events` whenever a step's contract changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from local.datasets import breast_cancer_csv
from local.stack import LocalStack
from local.template import ROOT
from local.training_runs import execution_history, run_training

EVENTS_DIR = ROOT / "events"
EXAMPLE_EXECUTION = "example"
EXAMPLE_REQUEST = {
    "model_name": "breast-cancer",
    "target": "target",
    "description": "Classify a breast mass as benign (1) or malignant (0).",
    "gate": {"metric": "f1", "min_score": 0.9},
    "requested_by": "events-generator",
}


def _function_folder(stack: LocalStack, function_arn: str) -> str:
    logical_id = next(k for k, name in stack.function_names.items() if function_arn.endswith(f":{name}"))
    return logical_id.removesuffix("Function").lower()


def captured_payloads(stack: LocalStack, execution_arn: str) -> list[tuple[str, dict[str, Any]]]:
    payloads = []
    for event in execution_history(stack, execution_arn):
        if event["type"] != "TaskScheduled":
            continue
        parameters = json.loads(event["taskScheduledEventDetails"]["parameters"])
        payload = parameters["Payload"]
        payload = json.loads(payload) if isinstance(payload, str) else payload
        payloads.append((_function_folder(stack, parameters["FunctionName"]), payload))
    return payloads


def write_events(directory: Path = EVENTS_DIR) -> list[Path]:
    written = []
    with LocalStack() as stack:
        stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/breast-cancer.csv", Body=breast_cancer_csv())
        request = {**EXAMPLE_REQUEST, "dataset_uri": f"s3://{stack.bucket}/datasets/breast-cancer.csv"}
        result = run_training(stack, request, execution_name=EXAMPLE_EXECUTION)
        if result.status != "SUCCEEDED":
            raise RuntimeError(f"the example execution failed: {result.error}: {result.cause}")
        for folder, payload in captured_payloads(stack, result.execution_arn):
            if folder == "train":
                case = payload["candidate"]["estimator"]
            elif folder == "predict":
                case = next(iter(payload))  # smoke_test or parity_check
            else:
                case = "breast_cancer"
            path = directory / folder / f"{case}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
            written.append(path)
    return written
