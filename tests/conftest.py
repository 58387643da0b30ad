"""Shared fixtures: fake AWS credentials, the embedded stack made from template.yaml, a Lambda context."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from local.runs.datasets import breast_cancer_csv
from local.stack import LocalStack
from mlops.storage import clients

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

# Powertools reads these when a handler module is imported (collection time, before any fixture runs), as
# Lambda has them set before the import; the template sets the same names for every function.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "mlops-tests")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ServerlessMLOpsTests")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Fake credentials and region, tracing off: no test can reach a real AWS account. A `python -m local` command
    run by a test keeps its state in the test's own directory, never in the repository's .local-aws/."""
    monkeypatch.setenv("MLOPS_LOCAL_STATE_DIR", str(tmp_path / "local-aws"))
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "mlops-tests",
        "POWERTOOLS_METRICS_NAMESPACE": "ServerlessMLOpsTests",
    }.items():
        monkeypatch.setenv(name, value)
    clients.reset_clients()
    yield
    clients.reset_clients()


@pytest.fixture(autouse=True)
def reset_metrics() -> Iterator[None]:
    """Powertools keeps metrics in module state; a test must not see another's."""
    Metrics().clear_metrics()
    yield
    Metrics().clear_metrics()


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    """The template's resources on moto; handlers called directly see the same settings as deployed ones."""
    with LocalStack() as local_stack:
        for name, value in local_stack.environment().items():
            monkeypatch.setenv(name, value)
        yield local_stack


@pytest.fixture
def breast_cancer_uri(stack: LocalStack) -> str:
    stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/breast-cancer.csv", Body=breast_cancer_csv())
    return f"s3://{stack.bucket}/datasets/breast-cancer.csv"


def upload(stack: LocalStack, key: str, payload: bytes) -> str:
    stack.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=payload)
    return f"s3://{stack.bucket}/{key}"


@dataclass
class FakeLambdaContext:
    function_name: str = "test-function"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext(aws_request_id=str(uuid.uuid4()))


def load_event(function: str, case: str) -> dict[str, Any]:
    """Events are files (events/<function>/<case>.json), shared with `sam local invoke -e`."""
    return json.loads((EVENTS / function / f"{case}.json").read_text())


# The order in which `make test` hands test files to its two workers (pytest-xdist, --dist loadfile with
# --no-loadscope-reorder: a file goes to the first free worker, in collection order). The files that run longest go
# first and the many short ones last, so both workers finish together; xdist's own order (most tests first) left a
# long integration file to start near the end. Within a file, tests keep their order.
FIRST_TO_LAST = ("integration", "fuzz", "unit", "build", "contract")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        folder = item.path.parent.name
        return FIRST_TO_LAST.index(folder) if folder in FIRST_TO_LAST else len(FIRST_TO_LAST)

    items.sort(key=rank)
