"""A stack with a deployed model, shared by the fuzz tests of one module (training it once costs seconds)."""

from __future__ import annotations

import logging
import os

import pytest

from local.runs.datasets import breast_cancer_csv
from local.runs.training import run_training
from local.stack import LocalStack


@pytest.fixture(scope="module")
def deployed():
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    saved = dict(os.environ)
    with LocalStack() as stack:
        os.environ.update(stack.environment())
        os.environ.update({"POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"})
        stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/bc.csv", Body=breast_cancer_csv())
        result = run_training(
            stack,
            {
                "model_name": "bc",
                "dataset_uri": f"s3://{stack.bucket}/datasets/bc.csv",
                "target": "target",
                "candidates": [{"estimator": "logistic_regression", "params": {}}],
            },
        )
        assert result.end_state == "Deployed", result.cause
        yield stack
    os.environ.clear()
    os.environ.update(saved)
