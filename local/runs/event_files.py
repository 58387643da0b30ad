"""Write events/<function>/<case>.json from real executions (the payloads Step Functions sent) and events/env.json,
the `sam local invoke --env-vars` file naming the local resources those events refer to.

Four executions on one ephemeral stack give every function an event:
- ``example``: the breast-cancer pipeline, deployed (prepare, train, evaluate, convert, predict, register; deploy in
  the Rollout execution it starts, named ``example`` too);
- ``example-approval``: a model whose request requires approval, followed until it waits (approval);
- ``example-failure``: a request whose target column does not exist, ended in its named failure state
  (record_failure, and deploy's ``undo_deployment`` step);
- a BatchTransform job of the deployed example model over its dataset (batch: plan, score a chunk, finish).
The reproduce function is not a state-machine step: its event is what the API sends it (``admin.reproduce_via``).
API Gateway events are `sam local generate-event` shapes (tools/write_api_events.py).

`python -m local aws-server --example` runs the same executions under the same names, so the objects these events
name (runs, artifacts, versions) exist in that server. Regenerate with `python -m local write-events` (make events)
whenever a step's contract changes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from local.runs.datasets import breast_cancer_csv
from local.runs.training import PipelineResult, execution_history, run_training
from local.stack import LocalStack
from local.template import ROOT, function_environment, function_property, resources_of_type
from mlops.records.batch import BatchJobRequest, BatchJobStart
from mlops.records.events import ReproduceEvent

EVENTS_DIR = ROOT / "events"
ENV_FILE = EVENTS_DIR / "env.json"
DATASET_KEY = "datasets/breast-cancer.csv"
EXAMPLE_EXECUTION = "example"
APPROVAL_EXECUTION = "example-approval"
FAILURE_EXECUTION = "example-failure"
BATCH_JOB_ID = "20260101T000000Z-0e8a3b1e"  # the example batch job (BatchTransform executions are named by job id)
AWS_SERVER_PORT = 5000  # python -m local aws-server's default port: the endpoint events/env.json names
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"
EXAMPLE_REQUEST = {
    "model_name": "breast-cancer",
    "target": "target",
    "description": "Classify a breast mass as benign (1) or malignant (0).",
    "gate": {"metric": "f1", "min_score": 0.9},
    "requested_by": "events-generator",
}
APPROVAL_REQUEST = {
    **EXAMPLE_REQUEST,
    "model_name": "breast-cancer-approved",
    "candidates": [{"estimator": "logistic_regression", "params": {"C": 1.0, "max_iter": 2000}}],
    "approval": {"required": True},
}
FAILURE_REQUEST = {**EXAMPLE_REQUEST, "model_name": "breast-cancer-failing", "target": "no_such_column"}
WAIT_FOR_APPROVAL_S = 300.0


def function_folder(stack_or_template: Any, logical_id: str) -> str:
    """events/<folder>/ is the function's CodeUri folder (functions/record_failure/ -> record_failure)."""
    template = getattr(stack_or_template, "template", stack_or_template)
    return Path(function_property(template, logical_id, "CodeUri")).name


def _function_folder(stack: LocalStack, function_arn: str) -> str:
    logical_id = next(k for k, name in stack.function_names.items() if function_arn.endswith(f":{name}"))
    return function_folder(stack, logical_id)


def started_execution_arn(scheduled: dict[str, Any]) -> str | None:
    """The execution a ``states:startExecution`` task started (the TrainingPipeline's Rollout), from the task's
    TaskScheduled event: the state machine and the name it gave; None for any other task."""
    details = scheduled["taskScheduledEventDetails"]
    if details["resourceType"] != "states" or not details["resource"].startswith("startExecution"):
        return None
    parameters = {key.lower(): value for key, value in json.loads(details["parameters"]).items()}
    return parameters["statemachinearn"].replace(":stateMachine:", ":execution:") + ":" + parameters["name"]


def captured_payloads(stack: LocalStack, execution_arn: str) -> list[tuple[str, dict[str, Any]]]:
    """(function folder, payload) of every Lambda task of an execution, in order, with those of the executions it
    started and waited for (the Rollout's Deploy) where they ran."""
    payloads = []
    for event in execution_history(stack, execution_arn):
        if event["type"] != "TaskScheduled":
            continue
        started = started_execution_arn(event)
        if started is not None:
            payloads += captured_payloads(stack, started)
            continue
        parameters = json.loads(event["taskScheduledEventDetails"]["parameters"])
        payload = parameters["Payload"]
        payload = json.loads(payload) if isinstance(payload, str) else payload
        folder = _function_folder(stack, parameters["FunctionName"])
        if folder == "evaluate":  # Train ran in the Distributed Map's child executions: their inputs are in S3
            results = map_results(stack, payload) or {"Objects": {}}
            for key, document in results["Objects"].items():
                if key.endswith(("SUCCEEDED_0.json", "FAILED_0.json")):
                    payloads += [("train", json.loads(execution["Input"])) for execution in document]
        payloads.append((folder, payload))
    return payloads


def _case(folder: str, payload: dict[str, Any]) -> str:
    fixed = {"record_failure": "prepare_failed"}
    by_payload = {
        "train": lambda: payload["candidate"]["estimator"],
        "predict": lambda: payload["step"],  # smoke_test or parity_check
        "deploy": lambda: "undo_deployment" if payload["step"] == "undo_deployment" else "breast_cancer",
        "approval": lambda: "approval_timed_out" if payload["step"] == "record_approval_timeout" else "await_approval",
        "batch": lambda: f"{payload['step']}_job",  # plan_job, finish_job (score_chunk: _score_chunk_payload)
    }
    if folder in fixed:
        return fixed[folder]
    return by_payload[folder]() if folder in by_payload else "breast_cancer"


def upload_dataset(stack: LocalStack) -> str:
    stack.client("s3").put_object(Bucket=stack.bucket, Key=DATASET_KEY, Body=breast_cancer_csv())
    return f"s3://{stack.bucket}/{DATASET_KEY}"


def _wait_for_approval(stack: LocalStack, execution_arn: str) -> None:
    """Follow an execution until Step Functions has sent the approval function its task token."""
    deadline = time.monotonic() + WAIT_FOR_APPROVAL_S
    approval = stack.function_names["ApprovalFunction"]
    sfn = stack.client("stepfunctions")
    while time.monotonic() < deadline:
        if any(folder == "approval" for folder, _ in captured_payloads(stack, execution_arn)):
            return
        if sfn.describe_execution(executionArn=execution_arn)["status"] != "RUNNING":
            break
        time.sleep(0.2)
    raise RuntimeError(f"{execution_arn} never invoked {approval} (does the request still require approval?)")


def run_example_executions(stack: LocalStack) -> dict[str, str]:
    """The executions the events are captured from, under fixed names; returns name -> execution ARN. The approval
    execution is left waiting for its decision, as Step Functions would leave it."""
    dataset_uri = upload_dataset(stack)
    example = run_training(stack, {**EXAMPLE_REQUEST, "dataset_uri": dataset_uri}, execution_name=EXAMPLE_EXECUTION)
    _require(example, "SUCCEEDED")
    failure = run_training(stack, {**FAILURE_REQUEST, "dataset_uri": dataset_uri}, execution_name=FAILURE_EXECUTION)
    _require(failure, "FAILED")
    approval_arn = stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.training_pipeline_arn,
        name=APPROVAL_EXECUTION,
        input=json.dumps({**APPROVAL_REQUEST, "dataset_uri": dataset_uri}),
    )["executionArn"]
    _wait_for_approval(stack, approval_arn)
    batch_arn = _run_batch_job(stack, dataset_uri)
    return {
        EXAMPLE_EXECUTION: example.execution_arn,
        FAILURE_EXECUTION: failure.execution_arn,
        APPROVAL_EXECUTION: approval_arn,
        BATCH_JOB_ID: batch_arn,
    }


def _score_chunk_payload(stack: LocalStack, batch_arn: str) -> dict[str, Any]:
    """The Distributed Map's first item, as its child execution hands it to the function (the children's histories
    are not the parent's): the job, as Finish is given it, and the plan's first chunk."""
    job = next(payload["job"] for _, payload in captured_payloads(stack, batch_arn) if payload.get("step") == "finish")
    plan = stack.client("s3").get_object(Bucket=job["plan_bucket"], Key=job["plan_key"])["Body"].read()
    return {"step": "score", "job": job, "item": json.loads(plan)[0]}


def _run_batch_job(stack: LocalStack, dataset_uri: str) -> str:
    """The deployed example model scores its own dataset in one BatchTransform job (plan, score, finish)."""
    start = BatchJobStart(
        job_id=BATCH_JOB_ID, model_name=EXAMPLE_REQUEST["model_name"], request=BatchJobRequest(input_uri=dataset_uri)
    )
    sfn = stack.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=stack.state_machine_arns["BatchTransform"], name=BATCH_JOB_ID, input=start.model_dump_json()
    )["executionArn"]
    deadline = time.monotonic() + WAIT_FOR_APPROVAL_S
    while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.2)
    if status != "SUCCEEDED":
        raise RuntimeError(f"the example batch job ended {status}")
    return arn


def _require(result: PipelineResult, status: str) -> None:
    if result.status != status:
        raise RuntimeError(f"the example execution ended {result.status}, not {status}: {result.error}: {result.cause}")


def env_file(stack: LocalStack, endpoint: str) -> dict[str, dict[str, str]]:
    """`sam local invoke --env-vars` content: per function, every variable the template declares for it (SAM CLI
    sets only declared ones), resolved to the local stack's names, with boto3's endpoint set to ``endpoint``."""
    document = {}
    for logical_id in sorted(resources_of_type(stack.template, "AWS::Serverless::Function")):
        declared = function_environment(stack.template, logical_id)
        variables = {name: stack.function_environments[logical_id][name] for name in sorted(declared)}
        variables[ENDPOINT_VARIABLE] = endpoint
        document[logical_id] = variables
    return document


def write_env_file(stack: LocalStack, path: Path, endpoint: str) -> Path:
    path.write_text(json.dumps(env_file(stack, endpoint), indent=2, sort_keys=True) + "\n")
    return path


MAP_RESULTS_DIR = "map_results"


def map_results(stack: LocalStack, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The S3 objects a step's event names that a Distributed Map's ResultWriter wrote (no function writes them):
    {"Bucket": ..., "Objects": {key: JSON document}}, or None."""
    details = ((payload.get("trials") or {}).get("map_run") or {}).get("ResultWriterDetails")
    if not details:
        return None
    s3 = stack.client("s3")
    manifest = json.loads(s3.get_object(Bucket=details["Bucket"], Key=details["Key"])["Body"].read())
    keys = [details["Key"]] + [f["Key"] for files in manifest["ResultFiles"].values() for f in files]
    documents = {key: json.loads(s3.get_object(Bucket=details["Bucket"], Key=key)["Body"].read()) for key in keys}
    return {"Bucket": details["Bucket"], "Objects": documents}


def write_events(directory: Path = EVENTS_DIR) -> list[Path]:
    with LocalStack() as stack:
        return capture_events(stack, run_example_executions(stack), directory)


def capture_events(stack: LocalStack, executions: dict[str, str], directory: Path) -> list[Path]:
    """Write the events and the env file from the example executions ``run_example_executions`` ran on ``stack``."""
    written = []
    seen: set[tuple[str, str]] = set()
    for name in (EXAMPLE_EXECUTION, FAILURE_EXECUTION, APPROVAL_EXECUTION, BATCH_JOB_ID):
        for folder, payload in captured_payloads(stack, executions[name]):
            case = _case(folder, payload)
            if (folder, case) in seen:  # the first execution's payload of a step is the one kept
                continue
            seen.add((folder, case))
            written.append(_write(directory / folder / f"{case}.json", payload))
            results = map_results(stack, payload)
            if results:  # what the Distributed Map's ResultWriter wrote, which the replay puts back first
                written.append(_write(directory / folder / MAP_RESULTS_DIR / f"{case}.json", results))
    score_chunk = _score_chunk_payload(stack, executions[BATCH_JOB_ID])
    written.append(_write(directory / "batch" / "score_chunk.json", score_chunk))
    reproduce = ReproduceEvent(model_name=EXAMPLE_REQUEST["model_name"], version=1, requested_by="events-generator")
    written.append(_write(directory / "reproduce" / "breast_cancer.json", reproduce.model_dump()))
    written.append(write_env_file(stack, directory / ENV_FILE.name, f"http://127.0.0.1:{AWS_SERVER_PORT}"))
    return written


def _write(path: Path, payload: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return path
