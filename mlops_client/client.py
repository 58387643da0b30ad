"""`Client`: every call of the HTTP API (docs/api.md) as a typed Python method, for a notebook, a script or the
`mlops` command (which is a thin layer over it)."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mlops_client import shapes
from mlops_client.errors import ConfigurationError
from mlops_client.jobs import BatchJob, DriftCheck, Run
from mlops_client.transport import Api, local_api, stack_api, transfer
from mlops_client.types import (
    Alias,
    Comparison,
    MetricComparison,
    Model,
    ModelSummary,
    Monitoring,
    RunSummary,
    Version,
    VersionSummary,
)

PREDICT_BATCH_ROWS = 1000  # the predict route's limit per request


class Client:
    """A client of one stack's API.

    ``Client(url="http://127.0.0.1:3000", api_key=...)`` for `python -m local up`; ``Client(stack="mlops",
    region=..., profile=...)`` for a deployed stack (its ``ApiUrl`` output, requests SigV4-signed with botocore's
    credentials; the predict route's key is read from ``ApiKeyId`` unless given). Without either, ``MLOPS_URL`` or
    ``MLOPS_STACK`` (and ``MLOPS_API_KEY``) from the environment. ``as_user`` (local only) acts as another IAM user
    name, e.g. an approver who is not the requester.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        stack: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        as_user: str | None = None,
    ) -> None:
        if url is None and stack is None:
            url, stack = os.environ.get("MLOPS_URL") or None, os.environ.get("MLOPS_STACK") or None
        api_key = api_key or os.environ.get("MLOPS_API_KEY") or None
        if url and stack:
            raise ConfigurationError("give either --url or --stack, not both")
        if stack:
            self.api: Api = stack_api(stack, region, profile, api_key, timeout_s)
        elif url:
            self.api = local_api(url, api_key, timeout_s, as_user)
        else:
            raise ConfigurationError(
                "no API: pass --stack NAME (deployed) or --url http://127.0.0.1:3000 (python -m local up), "
                "or set MLOPS_STACK / MLOPS_URL"
            )

    def __repr__(self) -> str:
        return f"Client({self.api.base_url!r}{', signed' if self.api.signer else ''})"

    # ---- training runs ----------------------------------------------------------------------------------------
    def train(
        self,
        request: Mapping[str, Any] | Any = None,
        *,
        model_name: str | None = None,
        dataset_uri: str | None = None,
        target: str | None = None,
        task: str | None = None,
        candidates: list[dict[str, Any]] | None = None,
        search: dict[str, Any] | None = None,
        gate: dict[str, Any] | None = None,
        approval: dict[str, Any] | None = None,
        compute: str | None = None,
        description: str | None = None,
        client_token: str | None = None,
        **fields: Any,
    ) -> Run:
        """Start a TrainingPipeline run and return it (``run.wait()`` follows it).

        ``request`` is the training request (a dict, or a ``TrainingRequest``-like object with ``model_dump``);
        the keywords set its fields over the request's (``model_name``, ``dataset_uri`` and ``target`` are
        required between them; any other field of the request, e.g. ``split`` or ``deployment``, as a keyword too:
        docs/api.md#the-training-request). ``client_token``: starting again with the same token (a retry) returns
        the run it started (``run.started`` False) instead of starting a second; a token reused with another request
        is a Conflict; default: a new random token.
        """
        document = _request_document(request)
        named = {
            "model_name": model_name,
            "dataset_uri": dataset_uri,
            "target": target,
            "task": task,
            "candidates": candidates,
            "search": search,
            "gate": gate,
            "approval": approval,
            "compute": compute,
            "description": description,
        }
        document.update({k: v for k, v in {**named, **fields}.items() if v is not None})
        missing = [name for name in ("model_name", "dataset_uri", "target") if not document.get(name)]
        if missing:
            raise ConfigurationError(f"the training request needs {', '.join(missing)}")
        token = client_token or document.pop("client_token", None) or f"sdk-{uuid.uuid4().hex}"
        document.pop("client_token", None)
        started = self.api.json("POST", "/pipelines/training", body={**document, "client_token": token})
        return Run(
            self, started, started=started.get("started", True), client_token=token, model_name=document["model_name"]
        )

    def run(self, execution_id: str, *, steps: bool = False) -> Run:
        """A training run by its id (``steps``: with the states it went through so far)."""
        return Run(self, {"execution_id": execution_id, "status": "RUNNING"}).refresh(steps=steps)

    def runs(self, limit: int = 20) -> list[RunSummary]:
        """The newest training runs (at most ``limit``, 1-100), newest first."""
        found = self.api.json("GET", "/pipelines/training", query={"limit": limit})
        return [RunSummary.from_document(r) for r in found]

    # ---- the registry -----------------------------------------------------------------------------------------
    def models(self) -> list[ModelSummary]:
        """Every registered model with its latest and production versions."""
        return [ModelSummary.from_document(m) for m in self.api.json("GET", "/models")]

    def model(self, name: str) -> Model:
        """A model and its aliases (production with its canary and previous version, staging, ...)."""
        return Model.from_document(self.api.json("GET", f"/models/{name}"))

    def versions(
        self, name: str, *, tag: str | Iterable[str] | None = None, status: str | None = None, alias: str | None = None
    ) -> list[VersionSummary]:
        """A model's versions with status, metrics, tags and aliases; filtered by ``tag`` (``"key=value"`` or
        ``"key"``, or several), ``status`` or ``alias`` (all must match)."""
        tags = [tag] if isinstance(tag, str) else list(tag or [])
        query = {"tag": tags or None, "status": status, "alias": alias}
        found = self.api.json("GET", f"/models/{name}/versions", query=query)
        return [VersionSummary.from_document(v, model_name=name) for v in found]

    def version(self, name: str, version: int) -> Version:
        """A version's full record: metrics, params, schema, lineage, gate, serving, tags."""
        return Version.from_document(self.api.json("GET", f"/models/{name}/versions/{version}"))

    def compare(self, name: str, a: int, b: int) -> Comparison:
        """Versions ``a`` and ``b`` side by side (computed here from the two records): every metric with ``b - a``,
        and every comparable field (status, estimator, params, lineage, gate, serving)."""
        left, right = self.version(name, a), self.version(name, b)
        flat_a, flat_b = comparable_fields(left.document), comparable_fields(right.document)
        rows = []
        for name_of_field in dict.fromkeys([*flat_a, *flat_b]):
            value_a, value_b = flat_a.get(name_of_field), flat_b.get(name_of_field)
            row: dict[str, Any] = {"field": name_of_field, "a": value_a, "b": value_b, "same": value_a == value_b}
            if _numbers(value_a, value_b):
                row["difference"] = value_b - value_a
            rows.append(row)
        metrics = {
            metric: MetricComparison(
                left.metrics.get(metric),
                right.metrics.get(metric),
                right.metrics[metric] - left.metrics[metric]
                if _numbers(*(m.get(metric) for m in (left.metrics, right.metrics)))
                else None,
            )
            for metric in sorted({*left.metrics, *right.metrics})
        }
        return Comparison(name, a, b, metrics, {"model_name": name, "a": a, "b": b, "fields": rows})

    # ---- serving ----------------------------------------------------------------------------------------------
    def predict(self, name: str, data: Any, *, alias: str = "production") -> Any:
        """Score ``data`` with the version ``alias`` points at, answered in the shape it came in:

        - a pandas DataFrame -> a DataFrame on the same index: ``prediction``, ``probability_<class>`` per class
          (classifiers), ``version``, ``inference_id``;
        - a list of records -> a list of ``{"inference_id", "version", "prediction", "probabilities"}``;
        - a dict of columns -> a dict of columns: ``inference_id``, ``version``, ``prediction``, ``probabilities``
          (class -> list).

        DataFrames and columns are sent as the columnar request, rows as instances; more than 1,000 rows go as
        several requests. NaN and None are missing values. A row the schema refuses raises ``Invalid`` (422) naming
        the row and feature; an unknown model or alias ``NotFound``.
        """
        shape = shapes.shape_of(data)
        query = None if alias == "production" else {"alias": alias}
        path = f"/models/{name}/predict"
        if shape == shapes.ROWS:
            rows = [{str(k): shapes.plain(v) for k, v in row.items()} for row in data]
            predictions: list[dict[str, Any]] = []
            for offset in range(0, max(len(rows), 1), PREDICT_BATCH_ROWS):
                body = {"instances": rows[offset : offset + PREDICT_BATCH_ROWS]}
                answer = self.api.json("POST", path, body=body, query=query, with_api_key=True)
                predictions.extend(answer["predictions"])
            return predictions
        columns = (
            shapes.frame_columns(data)
            if shape == shapes.FRAME
            else {str(k): shapes.column_values(v) for k, v in data.items()}
        )
        total = shapes.rows_count(columns)
        answers = [
            self.api.json(
                "POST",
                path,
                body={"inputs": shapes.slice_columns(columns, offset, offset + PREDICT_BATCH_ROWS)},
                query=query,
                with_api_key=True,
            )
            for offset in range(0, max(total, 1), PREDICT_BATCH_ROWS)
        ]
        merged = shapes.columns_of_outputs(answers)
        return shapes.frame_of_outputs(merged, data.index) if shape == shapes.FRAME else merged

    # ---- deployments and aliases ------------------------------------------------------------------------------
    def deploy(self, name: str, version: int, *, canary_weight: float | None = None, reason: str = "") -> Alias:
        """Smoke-test ``version`` and make it production (or, with ``canary_weight`` in 0..1, a canary)."""
        body: dict[str, Any] = {"version": version, "reason": reason}
        if canary_weight is not None:
            body["canary_weight"] = canary_weight
        return _alias_of(self.api.json("POST", f"/models/{name}/deployments", body=body))

    def promote(self, name: str, *, reason: str = "") -> Alias:
        """Make the canary production (the old version becomes the rollback target)."""
        return _alias_of(self.api.json("POST", f"/models/{name}/promote", body={"reason": reason}))

    def rollback(self, name: str, *, reason: str = "") -> Alias:
        """Drop an active canary, or move production back to its previous version."""
        return _alias_of(self.api.json("POST", f"/models/{name}/rollback", body={"reason": reason}))

    def set_alias(self, name: str, alias: str, version: int, *, reason: str = "") -> Alias:
        """Smoke-test ``version`` and point ``alias`` (e.g. ``staging``) at it; audited."""
        return _alias_of(
            self.api.json("PUT", f"/models/{name}/aliases/{alias}", body={"version": version, "reason": reason})
        )

    def delete_alias(self, name: str, alias: str) -> dict[str, Any]:
        """Remove a named alias (not ``production``: deploy or roll back instead)."""
        return self.api.json("DELETE", f"/models/{name}/aliases/{alias}")

    def set_tag(self, name: str, version: int, key: str, value: str, *, reason: str = "") -> dict[str, Any]:
        """Set a version's tag ``key`` to ``value``; audited. Returns the API's answer (the version's tags)."""
        return self.api.json(
            "PUT", f"/models/{name}/versions/{version}/tags/{key}", body={"value": value, "reason": reason}
        )

    def delete_tag(self, name: str, version: int, key: str) -> dict[str, Any]:
        """Delete a version's tag (NotFound if it has none of that key)."""
        return self.api.json("DELETE", f"/models/{name}/versions/{version}/tags/{key}")

    # ---- governance -------------------------------------------------------------------------------------------
    def approve(self, name: str, version: int, *, reason: str = "") -> dict[str, Any]:
        """Approve a version waiting for approval (not by whoever requested its run): its run resumes and deploys."""
        return self.api.json("POST", f"/models/{name}/versions/{version}/approve", body={"reason": reason})

    def reject(self, name: str, version: int, *, reason: str) -> dict[str, Any]:
        """Reject a version waiting for approval (``reason`` required): its run ends in ApprovalRejected."""
        return self.api.json("POST", f"/models/{name}/versions/{version}/reject", body={"reason": reason})

    def card(self, name: str, version: int, *, format: str = "json") -> Any:  # noqa: A002 - the API's parameter
        """A version's model card: the JSON document, or its Markdown with ``format="md"``."""
        if format == "md":
            return self.api.text("GET", f"/models/{name}/versions/{version}/card", query={"format": "md"})
        return self.api.json("GET", f"/models/{name}/versions/{version}/card")

    def audit(self, name: str) -> list[dict[str, Any]]:
        """The model's append-only audit trail (who did what, when, why)."""
        return self.api.json("GET", f"/models/{name}/audit")

    def dashboard(self) -> dict[str, Any]:
        """Where the registry dashboard is: ``{"url": ...}`` (on a stack a presigned URL valid 15 minutes)."""
        if self.api.signer is None:
            return {"url": self.api.url("/dashboard")}
        return self.api.json("POST", "/dashboard")

    # ---- batch scoring ----------------------------------------------------------------------------------------
    def batch(
        self,
        name: str,
        input_uri: str,
        *,
        alias: str = "production",
        chunk_bytes: int | None = None,
        capture: bool = True,
    ) -> BatchJob:
        """Start a BatchTransform job scoring the CSV at ``input_uri`` (an allowed dataset location) with ``alias``;
        ``job.wait()`` follows it, ``job.output_uri`` is its predictions once it SUCCEEDED."""
        body: dict[str, Any] = {"input_uri": input_uri, "alias": alias, "capture": capture}
        if chunk_bytes is not None:
            body["chunk_bytes"] = chunk_bytes
        return BatchJob(self, self.api.json("POST", f"/models/{name}/batch-jobs", body=body))

    def batch_job(self, name: str, job_id: str) -> BatchJob:
        """A batch job by its id."""
        return BatchJob(self, self.api.json("GET", f"/models/{name}/batch-jobs/{job_id}"))

    # ---- monitoring -------------------------------------------------------------------------------------------
    def monitoring(self, name: str, config: Mapping[str, Any] | None = None, *, stop: bool = False) -> Monitoring:
        """A model's drift monitoring: settings, schedule, monitor state and latest checks. With ``config``, replace
        the model's settings first (``{}``: back to the stack's); with ``stop``, stop its scheduled checks."""
        path = f"/models/{name}/monitoring"
        if stop:
            return Monitoring.from_document(self.api.json("DELETE", path))
        if config is not None:
            return Monitoring.from_document(self.api.json("PUT", path, body=dict(config)))
        return Monitoring.from_document(self.api.json("GET", path))

    def check_monitoring(
        self,
        name: str,
        *,
        wait: bool = False,
        reason: str = "",
        client_token: str | None = None,
        timeout_s: float = 900.0,
    ) -> DriftCheck:
        """Run the deployed model's drift check now (the check the schedule runs: it reads the capture since the last
        check and retrains only outside the cooldown); audited. ``wait``: return once it ended (``check.check_id``
        names its report: ``drift_report(name, check.check_id)``). A retry with the same ``client_token`` returns
        the check it started; NotFound for a model without a production version, Conflict while one of its checks
        runs."""
        token = client_token or f"sdk-{uuid.uuid4().hex}"
        started = self.api.json(
            "POST", f"/models/{name}/monitoring/checks", body={"client_token": token, "reason": reason}
        )
        check = DriftCheck(self, started, client_token=token)
        return check.wait(timeout_s=timeout_s) if wait else check

    def drift_report(self, name: str, check_id: str | None = None) -> str:
        """The HTML report of the model's latest drift check (or of ``check_id``)."""
        return self.api.text("GET", f"/models/{name}/monitoring/report", query={"check_id": check_id})

    # ---- bring your own model ---------------------------------------------------------------------------------
    def register_model(
        self,
        name: str,
        model: Any,
        *,
        target: str,
        dataset_uri: str,
        input_example: Mapping[str, Any] | None = None,
        client_token: str | None = None,
        **fields: Any,
    ) -> Run:
        """Register a model fitted elsewhere through the same gate as a trained one; return its run.

        ``model``: a fitted scikit-learn estimator or ``Pipeline`` (serialised here with skops, which must be
        installed), or the bytes of a skops file. The file is uploaded through a presigned PUT, then
        ``POST /models/{name}/external-versions`` checks its sha256 and every type it holds against the stack's
        allow-list (an Invalid naming the type otherwise: nothing of the caller's is ever unpickled), and the run
        evaluates it on its own split of ``dataset_uri``, gates, converts, registers and deploys it like any
        candidate. The model receives the dataset's feature columns in file order. ``fields``: the training
        request's ``gate``, ``split``, ``approval``, ``deployment``, ``description``. A retry with the same
        ``client_token`` returns the run it started.
        """
        payload = model if isinstance(model, bytes | bytearray) else _skops_bytes(model)
        grant = self.api.json("POST", "/uploads", body={"file_name": "model.skops"})
        transfer("PUT", grant["url"], bytes(payload), self.api.timeout_s)
        token = client_token or f"sdk-{uuid.uuid4().hex}"
        body = {
            **fields,
            "artifact_uri": grant["uri"],
            "artifact_sha256": hashlib.sha256(payload).hexdigest(),
            "target": target,
            "dataset_uri": dataset_uri,
            "client_token": token,
        }
        if input_example is not None:
            body["input_example"] = dict(input_example)
        started = self.api.json("POST", f"/models/{name}/external-versions", body=body)
        return Run(self, started, started=started.get("started", True), client_token=token, model_name=name)

    # ---- data in and out --------------------------------------------------------------------------------------
    def upload(self, path: str | os.PathLike[str], uri: str | None = None) -> str:
        """Upload a local file (e.g. a training CSV) through a presigned PUT and return its ``s3://`` URI: ``uri`` if
        given (it must be in an allowed dataset location, else Forbidden), else a new key under the stack's
        ``datasets/uploads/``."""
        source = Path(path)
        body = {"uri": uri} if uri else {"file_name": source.name}
        grant = self.api.json("POST", "/uploads", body=body)
        transfer("PUT", grant["url"], source.read_bytes(), self.api.timeout_s)
        return grant["uri"]

    def download(self, uri: str, path: str | os.PathLike[str]) -> Path:
        """Download an object (a dataset, a batch job's file) through a presigned GET to the file ``path``; returns
        it. A URI ending in ``/`` (a batch job's ``output_uri`` or ``errors_uri``) downloads every object under it
        into the directory ``path``, each under its own name."""
        grant = self.api.json("POST", "/downloads", body={"uri": uri})
        target = Path(path)
        if "objects" not in grant:
            target.write_bytes(transfer("GET", grant["url"], None, self.api.timeout_s))
            return target
        target.mkdir(parents=True, exist_ok=True)
        for item in grant["objects"]:
            relative = item["uri"][len(grant["uri"]) :]
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(transfer("GET", item["url"], None, self.api.timeout_s))
        return target


def _request_document(request: Any) -> dict[str, Any]:
    if request is None:
        return {}
    if hasattr(request, "model_dump"):  # a TrainingRequest (pydantic): the fields set, as JSON
        document = request.model_dump(mode="json", exclude_unset=True)
    elif isinstance(request, Mapping):
        document = dict(request)
    else:
        raise TypeError(f"request must be a dict or a TrainingRequest, not {type(request).__name__}")
    return document


def _alias_of(answer: dict[str, Any]) -> Alias:
    alias = answer.get("alias") if isinstance(answer.get("alias"), dict) else answer
    typed = Alias.from_document(alias)
    object.__setattr__(typed, "document", answer)  # the whole answer (e.g. the smoke test's), not only the alias
    return typed


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def comparable_fields(record: dict[str, Any]) -> dict[str, Any]:
    """The fields of a version worth reading side by side, flattened (metrics.f1, lineage.data_sha256, ...)."""
    flat: dict[str, Any] = {}
    for key in ("status", "estimator", "created_at", "created_by", "run_id", "task", "target"):
        flat[key] = record.get(key)
    for section in ("metrics", "validation_metrics", "params", "lineage"):
        flatten(section, record.get(section) or {}, flat)
    gate = record.get("gate") or {}
    for key in ("decision", "metric", "challenger_score", "champion_score", "champion_version"):
        flat[f"gate.{key}"] = gate.get(key)
    serving = record.get("serving") or {}
    flat["serving.runtime"] = serving.get("runtime")
    flat["artifact_sha256"] = record.get("artifact_sha256")
    flat["features"] = len(((record.get("schema") or {}).get("features")) or [])
    return {k: v for k, v in flat.items() if not isinstance(v, list) or len(v) <= 10}


def flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    """``{"a": {"b": 1}}`` as ``{"a.b": 1}`` under ``prefix``."""
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            flatten(f"{prefix}.{key}" if prefix else str(key), inner, into)
    else:
        into[prefix] = value


def _skops_bytes(model: Any) -> bytes:
    """A fitted model as a skops file, made on the client (the platform never loads a pickle of a caller's)."""
    try:
        import skops.io  # noqa: PLC0415 - optional: only a model to register needs it
    except ImportError as exc:
        raise ConfigurationError(
            "registering a model object needs skops (pip install skops), or pass its bytes"
        ) from exc
    return skops.io.dumps(model)
