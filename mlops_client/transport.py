"""How the SDK (and so the `mlops` command) reaches an API: plain HTTP to `python -m local up`, or SigV4-signed HTTPS
to a deployed stack, and presigned S3 URLs for uploads and downloads.

botocore is imported only for a stack (finding the API in the stack's outputs, credentials, signing): it costs
~200 ms to import, and the local API needs none of it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlops_client.errors import ConfigurationError, MlopsError, Unreachable, api_error

SERVICE = "execute-api"


class SigV4Signer:
    """Signs a request with botocore's SigV4Auth for API Gateway (service execute-api)."""

    def __init__(self, credentials: Any, region: str) -> None:
        self.credentials = credentials
        self.region = region

    def sign(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> dict[str, str]:
        """The headers to send: the given ones plus X-Amz-Date, X-Amz-Security-Token and Authorization."""
        from botocore.auth import SigV4Auth  # noqa: PLC0415 - only signed calls pay for botocore
        from botocore.awsrequest import AWSRequest  # noqa: PLC0415

        credentials = self.credentials
        if hasattr(credentials, "get_frozen_credentials"):  # refreshable credentials: one consistent set
            credentials = credentials.get_frozen_credentials()
        request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
        SigV4Auth(credentials, SERVICE, self.region).add_auth(request)
        return dict(request.headers.items())


@dataclass
class Api:
    """One API: its base URL (…/v1 on AWS, http://127.0.0.1:3000 locally), an optional signer and API key."""

    base_url: str
    signer: SigV4Signer | None = None
    api_key: str | None = None
    timeout_s: float = 60.0
    api_key_source: Any = None  # a callable that fetches the key on first use (a stack's ApiKeyId)
    local_caller: str | None = None  # `local up` only: the IAM user name to act as (x-local-caller)

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        quoted = urllib.parse.quote(path, safe="/")
        url = self.base_url.rstrip("/") + quoted
        if query:  # a list value repeats its key (?tag=a&tag=b)
            pairs = [
                (key, str(item).lower() if isinstance(item, bool) else str(item))
                for key, value in sorted(query.items())
                if value is not None
                for item in (value if isinstance(value, list) else [value])
            ]
            if pairs:
                url += "?" + urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)
        return url

    def predict_key(self) -> str:
        """The predict route's API key (a stack's read from its ApiKeyId on first use); ConfigurationError without."""
        key = self.api_key or (self.api_key_source() if self.api_key_source else None)
        if not key:
            raise ConfigurationError("the predict route needs an API key: --api-key KEY (or MLOPS_API_KEY)")
        self.api_key = key
        return key

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, Any] | None = None,
        with_api_key: bool = False,
    ) -> tuple[int, dict[str, str], bytes]:
        url = self.url(path, query)
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json, text/html, text/markdown"}
        if self.local_caller:
            headers["x-local-caller"] = self.local_caller
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if with_api_key:
            headers["x-api-key"] = self.predict_key()
        if self.signer is not None:
            headers = self.signer.sign(method, url, payload, headers)
        request = urllib.request.Request(url, data=payload, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers.items()), exc.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            hint = " (is `python -m local up` running?)" if self.signer is None else ""
            raise Unreachable(f"cannot reach {self.base_url}: {reason}{hint}") from None

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        status, _, content = self.call(method, path, **kwargs)
        try:
            document = json.loads(content) if content else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            document = None
        if status >= 400:
            message = document.get("message") if isinstance(document, dict) else None
            error = document.get("error") if isinstance(document, dict) else None
            if isinstance(document, dict) and isinstance(document.get("detail"), list) and not message:
                message = "; ".join(str(item.get("msg", item)) for item in document["detail"])
            raise api_error(status, _one_line(message or content.decode("utf-8", "replace") or "no body"), error)
        if document is None and content:
            raise MlopsError(f"{method} {path} answered {status} with a body that is not JSON")
        return document

    def text(self, method: str, path: str, **kwargs: Any) -> str:
        status, _, content = self.call(method, path, **kwargs)
        if status >= 400:
            try:
                document = json.loads(content)
                message, error = document.get("message"), document.get("error")
            except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
                message, error = content.decode("utf-8", "replace"), None
            raise api_error(status, _one_line(message or "no body"), error)
        return content.decode("utf-8")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:500]


def local_api(url: str, api_key: str | None, timeout_s: float, local_caller: str | None = None) -> Api:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"--url must be an http(s) URL such as http://127.0.0.1:3000, not {url!r}")
    return Api(url.rstrip("/"), api_key=api_key, timeout_s=timeout_s, local_caller=local_caller)


def stack_api(stack_name: str, region: str | None, profile: str | None, api_key: str | None, timeout_s: float) -> Api:
    """The API of a deployed stack: its ApiUrl output, signed with the credentials of botocore's chain."""
    import botocore.exceptions  # noqa: PLC0415 - only --stack needs botocore
    import botocore.session  # noqa: PLC0415

    try:
        session = botocore.session.Session(profile=profile)
        region = region or session.get_config_variable("region")
        if not region:
            raise Unreachable("no AWS region: pass --region (region=) or set AWS_REGION / a profile's region")
        credentials = session.get_credentials()
        if credentials is None:
            raise Unreachable(
                "no AWS credentials found (environment, ~/.aws, SSO, instance role): configure them or pass --profile"
            )
        cloudformation = session.create_client("cloudformation", region_name=region)
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except botocore.exceptions.ProfileNotFound as exc:
        raise ConfigurationError(str(exc)) from None
    except botocore.exceptions.ClientError as exc:
        raise Unreachable(f"stack {stack_name!r} in {region}: {exc.response['Error']['Message']}") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise Unreachable(f"stack {stack_name!r}: {exc}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if "ApiUrl" not in outputs:
        raise Unreachable(f"stack {stack_name!r} has no ApiUrl output (is it this application's stack?)")

    def fetch_api_key() -> str | None:
        if "ApiKeyId" not in outputs:
            return None
        client = session.create_client("apigateway", region_name=region)
        try:
            return client.get_api_key(apiKey=outputs["ApiKeyId"], includeValue=True)["value"]
        except botocore.exceptions.ClientError as exc:
            raise MlopsError(f"cannot read the stack's API key: {exc.response['Error']['Message']}") from None

    return Api(
        outputs["ApiUrl"].rstrip("/"),
        signer=SigV4Signer(credentials, region),
        api_key=api_key,
        timeout_s=timeout_s,
        api_key_source=fetch_api_key,
    )


def transfer(
    method: str, url: str, payload: bytes | None, timeout_s: float, headers: Mapping[str, str] | None = None
) -> bytes:
    """PUT ``payload`` to, or GET the bytes of, a presigned S3 URL (the URL is the credential: nothing is signed).
    ``headers``: e.g. a ``Range`` for the first bytes of an object."""
    request = urllib.request.Request(url, data=payload, method=method, headers=dict(headers or {}))
    if payload is not None:
        request.add_header("Content-Type", "application/octet-stream")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        code = detail.split("<Code>")[1].split("</Code>")[0] if "<Code>" in detail else exc.reason
        raise api_error(exc.code, f"S3 answered {exc.code} to the presigned {method}: {code}", "S3Error") from None
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        raise Unreachable(f"cannot reach the presigned URL's host: {getattr(exc, 'reason', exc)}") from None
