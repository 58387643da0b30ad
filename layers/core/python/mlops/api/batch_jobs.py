"""Batch jobs (BatchTransform) behind the API: start one named by a new job id, describe one with its summary."""

from __future__ import annotations

import json
from typing import Any

from mlops.api.executions import describe_execution, execution_arn
from mlops.errors import ModelNotFound
from mlops.records.batch import BatchJobRequest, BatchJobStart
from mlops.serving import batch_jobs as batch
from mlops.storage import clients


class BatchJobNotFound(ModelNotFound):
    """No batch job with that id for that model."""


def start_batch_job(state_machine_arn: str, model_name: str, request: BatchJobRequest) -> dict[str, Any]:
    """Start a BatchTransform execution named by a new job id (the model must exist: 404 otherwise, checked by the
    caller); the job's files go under ``predictions/<model>/<job>/``."""
    job_id = batch.new_job_id()
    start = BatchJobStart(job_id=job_id, model_name=model_name, request=request)
    started = clients.client("stepfunctions").start_execution(
        stateMachineArn=state_machine_arn, name=job_id, input=start.model_dump_json()
    )
    return {
        "job_id": job_id,
        "model_name": model_name,
        "status": "RUNNING",
        "execution_arn": started["executionArn"],
        "input_uri": request.input_uri,
        "alias": request.alias,
    }


def describe_batch_job(state_machine_arn: str, artifacts_bucket: str, model_name: str, job_id: str) -> dict[str, Any]:
    """Status from the execution; counts and URIs from the job's summary once it has one (a FAILED job's summary
    names no output: what its committed chunks wrote is not a result)."""
    sfn = clients.client("stepfunctions")
    described = describe_execution(sfn, execution_arn(state_machine_arn, job_id))
    if described is None or json.loads(described.get("input") or "{}").get("model_name") != model_name:
        raise BatchJobNotFound(f"no batch job {job_id!r} for model {model_name!r}")
    result: dict[str, Any] = {
        "job_id": job_id,
        "model_name": model_name,
        "status": described["status"],
        "execution_arn": described["executionArn"],
        "started_at": described["startDate"].isoformat(),
    }
    if described.get("stopDate"):
        result["stopped_at"] = described["stopDate"].isoformat()
    if described["status"] == "FAILED":
        result.update(error=described.get("error"), cause=(described.get("cause") or "")[:4096])
    if described["status"] != "RUNNING":
        summary = batch.read_summary(artifacts_bucket, model_name, job_id)
        if summary is not None:
            result["summary"] = summary
            for key in ("rows", "scored", "invalid", "output_uri", "errors_uri", "version", "complete"):
                if key in summary:
                    result[key] = summary[key]
    return result
