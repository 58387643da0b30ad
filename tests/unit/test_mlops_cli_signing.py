"""SigV4: what the `mlops` command sends to a stack's API is what botocore's signer computes for that request, and
botocore reproduces AWS's published signature test vector (get-vanilla)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from mlops_client.transport import Api, SigV4Signer

FIXED = dt.datetime(2015, 8, 30, 12, 36, 0)
CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


def test_botocore_reproduces_the_aws_get_vanilla_vector():
    """AWS's SigV4 test suite, get-vanilla: GET / on example.amazonaws.com, service 'service', us-east-1."""
    request = AWSRequest(method="GET", url="https://example.amazonaws.com/", headers={})
    with mock.patch("botocore.auth.get_current_datetime", return_value=FIXED):
        SigV4Auth(CREDENTIALS, "service", "us-east-1").add_auth(request)
    assert request.headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


@pytest.fixture
def recorder():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            return

        def _record(self):
            length = int(self.headers.get("Content-Length") or 0)
            received.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": self.rfile.read(length) if length else b"",
                }
            )
            payload = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = _record  # noqa: N815 - the stdlib's handler names

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("method", "path", "body", "query"),
    [
        ("GET", "/models/churn/versions", None, None),
        ("GET", "/pipelines/training", None, {"limit": 5}),
        ("GET", "/models/churn/versions/3/card", None, {"format": "md"}),
        ("POST", "/models/churn/deployments", {"version": 2, "reason": "a reason with spaces"}, None),
        ("PUT", "/models/churn/monitoring", {"drift": {"psi_threshold": 0.2}}, None),
    ],
)
def test_the_request_sent_is_the_request_signed(recorder, method, path, body, query):
    url, received = recorder
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")
    api = Api(url + "/v1", signer=SigV4Signer(credentials, "eu-west-1"))
    with mock.patch("botocore.auth.get_current_datetime", return_value=FIXED):
        assert api.json(method, path, body=body, query=query) == {"ok": True}
    (got,) = received
    # Re-sign what the server received (the headers the signature names, as API Gateway does), with botocore's own
    # signer, from scratch
    signed = got["headers"]["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-amz-date", "x-amz-security-token"} <= set(signed)
    headers = {
        k: v
        for k, v in got["headers"].items()
        if k.lower() in signed and k.lower() not in ("x-amz-date", "x-amz-security-token")
    }
    expected = AWSRequest(method=got["method"], url=url + got["path"], data=got["body"], headers=headers)
    with mock.patch("botocore.auth.get_current_datetime", return_value=FIXED):
        SigV4Auth(credentials, "execute-api", "eu-west-1").add_auth(expected)
    assert got["headers"]["Authorization"] == expected.headers["Authorization"]
    assert got["headers"]["X-Amz-Security-Token"] == "session-token"
    assert "/eu-west-1/execute-api/aws4_request" in got["headers"]["Authorization"]
    assert got["path"].startswith("/v1" + path)
    if body is not None:
        assert json.loads(got["body"]) == body
