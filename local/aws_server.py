"""The embedded AWS as a server: moto's ThreadedMotoServer over the local stack (the template's resources provisioned,
the kept state restored), for clients outside this process — `sam local invoke` containers, the AWS CLI, a handler
run by hand with AWS_ENDPOINT_URL.

The stack runs in this process (moto in-process, with the in-process Lambda runtime of local/runtime.py); the server
shares its backends, so what a function invoked by `sam local invoke` writes is what `local up`, `mlops` and the
dashboard read after a save, and a Lambda invoke it makes (the API's smoke test, Step Functions' tasks) runs here.
With ``example``, the executions events/ were captured from run first (same names), so every object the events name
exists.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from moto.server import ThreadedMotoServer

from local.runs.event_files import EXAMPLE_EXECUTION, run_example_executions
from local.stack import LocalStack
from mlops.storage import clients


@dataclass
class AwsServer:
    stack: LocalStack
    host: str
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"


def has_examples(stack: LocalStack) -> bool:
    executions = stack.client("stepfunctions").list_executions(stateMachineArn=stack.training_pipeline_arn)
    return any(e["name"] == EXAMPLE_EXECUTION for e in executions["executions"])


@dataclass
class PresignedUrlServer:
    """moto's server for the presigned S3 URLs the API signs under `local up` (its clients are other processes: the
    SDK's upload and download); moto does not check the signatures, it stores and answers the objects."""

    server: ThreadedMotoServer
    endpoint: str

    def stop(self) -> None:
        clients.presign_for(None)
        self.server.stop()


def presigned_urls_server(stack: LocalStack, host: str = "127.0.0.1") -> PresignedUrlServer:
    """Start moto's server on a free port over the started stack and make presigned URLs name it."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    endpoint = f"http://{bound_host}:{bound_port}"
    clients.presign_for(endpoint)
    return PresignedUrlServer(server, endpoint)


@contextlib.contextmanager
def serving(
    stack: LocalStack, *, host: str = "127.0.0.1", port: int = 5000, example: bool = False
) -> Iterator[AwsServer]:
    """moto's server on ``host:port`` (0: a free port) over a started stack, until the block ends."""
    if example and not has_examples(stack):
        run_example_executions(stack)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    try:
        bound_host, bound_port = server.get_host_and_port()
        yield AwsServer(stack, bound_host, bound_port)
    finally:
        server.stop()
