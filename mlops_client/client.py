"""`Client`: every call of the HTTP API (docs/api.md) as a typed Python method, for a notebook, a script or the
`mlops` command (which is a thin layer over it)."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mlops_client import mlflow_models, shapes
from mlops_client.errors import ConfigurationError, Invalid, NotFound
from mlops_client.inputs import InputSchema, InvalidInput, prepare_columns, prepare_rows
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
        self._schemas: dict[tuple[str, int], InputSchema] = {}  # by version
        self._alias_schemas: dict[tuple[str, str], InputSchema] = {}  # what predict last read for (name, alias)
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
        document["dataset_uri"] = self.uri_of(document["dataset_uri"])
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

    def reproduce(self, name: str, version: int) -> dict[str, Any]:
        """Retrain ``version`` from its lineage (the same data, by sha256, split and parameters) and compare: the
        report (``reproduced``, ``data_matches``, ``metrics_match``, ``predictions_match``, ``reason``, ...)."""
        return self.api.json("POST", f"/models/{name}/versions/{version}/reproduce")

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
    def predict(
        self,
        name: str,
        data: Any,
        *,
        alias: str = "production",
        id_column: str | None = None,
        as_is: bool = False,
    ) -> Any:
        """Score ``data`` with the version ``alias`` points at, answered in the shape it came in:

        - a pandas DataFrame -> a DataFrame on the same index: ``prediction``, ``probability_<class>`` per class
          (classifiers), ``version``, ``inference_id``;
        - a list of records -> a list of ``{"inference_id", "version", "prediction", "probabilities"}``;
        - a dict of columns -> a dict of columns: ``inference_id``, ``version``, ``prediction``, ``probabilities``
          (class -> list).

        ``data`` is the raw table, as the training data was: the version's schema (read on the first call for the
        alias, and again when a deployment since made it refuse the data) picks the columns the model reads (a date
        column as it is: the endpoint derives its parts; categories as text; numbers parsed from text), and leaves out
        the rest (identifiers, excluded columns, the target), as the endpoint ignores them. ``id_column``: a column
        carried to the answer (first), e.g. a customer id. ``as_is``: send the data untouched (no schema read). A
        missing input column (or id column) raises ``InvalidInput`` before any request; a value the schema refuses
        ``Invalid`` (422) naming the row and feature; an unknown model or alias ``NotFound``. More than 1,000 rows go
        as several requests; NaN and None are missing values.
        """
        shape = shapes.shape_of(data)
        self.api.predict_key()  # no key, no request at all (not even the schema's)
        if as_is:
            return self._predict(name, data, shape, None, alias=alias, id_column=id_column)
        cached = (name, alias) in self._alias_schemas
        if not cached:
            self._alias_schemas[(name, alias)] = self.input_schema(name, alias)
        try:
            return self._predict(
                name, data, shape, self._alias_schemas[(name, alias)], alias=alias, id_column=id_column
            )
        except (InvalidInput, Invalid):
            if not cached:
                raise
        # the schema was read before a deployment that changed it: read it again, and try once more
        self._alias_schemas[(name, alias)] = self.input_schema(name, alias)
        return self._predict(name, data, shape, self._alias_schemas[(name, alias)], alias=alias, id_column=id_column)

    def _predict(
        self, name: str, data: Any, shape: str, schema: InputSchema | None, *, alias: str, id_column: str | None
    ) -> Any:
        query = None if alias == "production" else {"alias": alias}
        path = f"/models/{name}/predict"
        if shape == shapes.ROWS:
            rows = [{str(k): shapes.plain(v) for k, v in row.items()} for row in data]
            ids = [row.get(id_column) for row in rows] if id_column else None
            if id_column and any(id_column not in row for row in rows):
                raise InvalidInput(f"a row has no id column {id_column!r}")
            if schema is not None:
                rows, _ = prepare_rows(rows, schema)
            predictions: list[dict[str, Any]] = []
            for offset in range(0, max(len(rows), 1), PREDICT_BATCH_ROWS):
                body = {"instances": rows[offset : offset + PREDICT_BATCH_ROWS]}
                answer = self.api.json("POST", path, body=body, query=query, with_api_key=True)
                predictions.extend(answer["predictions"])
            if ids is not None:
                predictions = [{id_column: ids[i], **p} for i, p in enumerate(predictions)]
            return predictions
        columns = (
            shapes.frame_columns(data)
            if shape == shapes.FRAME
            else {str(k): shapes.column_values(v) for k, v in data.items()}
        )
        if id_column is not None and id_column not in columns:
            raise InvalidInput(f"no id column {id_column!r} in the data (columns: {', '.join(columns)})")
        ids = columns[id_column] if id_column else None
        if schema is not None:
            columns, _ = prepare_columns(columns, schema, id_column=id_column)
        elif id_column is not None:
            columns = {k: v for k, v in columns.items() if k != id_column}
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
        if id_column is not None:
            merged = {id_column: ids, **merged}
        return shapes.frame_of_outputs(merged, data.index) if shape == shapes.FRAME else merged

    def input_schema(self, name: str, alias: str = "production") -> InputSchema:
        """The raw columns the version ``alias`` points at reads, with their kinds (numeric, categorical, datetime):
        what ``predict`` sends. The model's aliases are read each time, a version's schema once."""
        aliases = self.api.json("GET", f"/models/{name}").get("aliases") or {}
        if alias not in aliases:
            known = ", ".join(sorted(aliases)) or "none"
            raise NotFound(404, f"{name} has no alias {alias!r} (its aliases: {known})", "AliasNotFound")
        version = int(aliases[alias]["version"])
        if (name, version) not in self._schemas:
            record = self.api.json("GET", f"/models/{name}/versions/{version}")
            self._schemas[(name, version)] = InputSchema.from_document(record.get("schema"), version)
        return self._schemas[(name, version)]

    def feedback(self, name: str, labels: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        """Post ground truth for served predictions: ``{inference_id: label}`` or a list of ``{"inference_id",
        "label"}`` (the drift checks join them with the capture for live metrics); 1,000 per request. Returns the
        API's last answer, with ``accepted`` summed over the requests."""
        items = (
            [{"inference_id": str(k), "label": shapes.plain(v)} for k, v in labels.items()]
            if isinstance(labels, Mapping)
            else [{"inference_id": str(i["inference_id"]), "label": shapes.plain(i["label"])} for i in labels]
        )
        if not items:
            raise ConfigurationError("no labels to send")
        answers = [
            self.api.json(
                "POST", f"/models/{name}/feedback", body={"labels": items[offset : offset + PREDICT_BATCH_ROWS]}
            )
            for offset in range(0, len(items), PREDICT_BATCH_ROWS)
        ]
        return {**answers[-1], "accepted": sum(int(a.get("accepted") or 0) for a in answers)}

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

    def delete_alias(self, name: str, alias: str, *, reason: str = "") -> dict[str, Any]:
        """Remove a named alias (not ``production``: deploy or roll back instead); audited."""
        body = {"reason": reason} if reason else None
        return self.api.json("DELETE", f"/models/{name}/aliases/{alias}", body=body)

    def set_tag(self, name: str, version: int, key: str, value: str, *, reason: str = "") -> dict[str, Any]:
        """Set a version's tag ``key`` to ``value``; audited. Returns the API's answer (the version's tags)."""
        return self.api.json(
            "PUT", f"/models/{name}/versions/{version}/tags/{key}", body={"value": value, "reason": reason}
        )

    def delete_tag(self, name: str, version: int, key: str, *, reason: str = "") -> dict[str, Any]:
        """Delete a version's tag (NotFound if it has none of that key); audited."""
        body = {"reason": reason} if reason else None
        return self.api.json("DELETE", f"/models/{name}/versions/{version}/tags/{key}", body=body)

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
        input_uri: str | os.PathLike[str],
        *,
        alias: str = "production",
        chunk_bytes: int | None = None,
        capture: bool = True,
        output_format: str | None = None,
    ) -> BatchJob:
        """Start a BatchTransform job scoring the CSV at ``input_uri`` (an allowed dataset location, or a local file:
        uploaded first) with ``alias``, its output parts in ``output_format`` (``csv``, the service's default, or
        ``jsonl``); ``job.wait()`` follows it, ``job.output_uri`` is its predictions once it SUCCEEDED."""
        body: dict[str, Any] = {"input_uri": self.uri_of(input_uri), "alias": alias, "capture": capture}
        if chunk_bytes is not None:
            body["chunk_bytes"] = chunk_bytes
        if output_format is not None:
            body["output_format"] = output_format
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

        ``model``: a fitted scikit-learn estimator or ``Pipeline``, or a LightGBM ``LGBMClassifier``/``LGBMRegressor``
        (alone or as a Pipeline's last step), serialised here with skops, which must be installed; the bytes of a
        skops file; or the path of an MLflow model directory (``register_mlflow_model``). The file is uploaded
        through a presigned PUT, then ``POST /models/{name}/external-versions`` checks its sha256 and every type it
        holds against the stack's allow-list (an Invalid naming the type otherwise: nothing of the caller's is ever
        unpickled), and the run evaluates it on its own split of ``dataset_uri``, gates, converts, registers and
        deploys it like any candidate. The model receives the dataset's feature columns in file order.
        ``fields``: the training request's ``gate``, ``split``, ``approval``, ``deployment``, ``description``. A
        retry with the same ``client_token`` returns the run it started.
        """
        if isinstance(model, str | os.PathLike):  # an MLflow model directory
            return self.register_mlflow_model(
                name, model, target=target, dataset_uri=dataset_uri, client_token=client_token, **fields
            )
        payload = model if isinstance(model, bytes | bytearray) else _skops_bytes(model)
        grant = self.api.json("POST", "/uploads", body={"file_name": "model.skops"})
        transfer("PUT", grant["url"], bytes(payload), self.api.timeout_s)
        token = client_token or f"sdk-{uuid.uuid4().hex}"
        body = {
            **fields,
            "artifact_uri": grant["uri"],
            "artifact_sha256": hashlib.sha256(payload).hexdigest(),
            "target": target,
            "dataset_uri": self.uri_of(dataset_uri),
            "client_token": token,
        }
        if input_example is not None:
            body["input_example"] = dict(input_example)
        started = self.api.json("POST", f"/models/{name}/external-versions", body=body)
        return Run(self, started, started=started.get("started", True), client_token=token, model_name=name)

    def register_mlflow_model(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        target: str,
        dataset_uri: str,
        allow_pickle: bool = False,
        client_token: str | None = None,
        **fields: Any,
    ) -> Run:
        """Register a model an MLflow user logged (``mlflow.sklearn.log_model``/``save_model``: a directory with an
        ``MLmodel`` file) through the same gate; return its run.

        The directory is read here, in your process; nothing of it is executed on the platform. Its ``MLmodel``
        names the model file: MLflow's ``skops`` format is sent as it is (checked against the allow-list by the
        API); a ``pickle``/``cloudpickle`` model is unpickled here only with ``allow_pickle=True`` (unpickling
        runs the file's code: only for a directory you logged yourself) and sent as skops. Before anything is
        uploaded, the signature's input columns and types are compared with the dataset's header and first rows
        (fetched by a ranged GET): ``SchemaMismatch`` names every column that differs. The input example's first
        row becomes the request's ``input_example`` (checked by the run against the dataset's inputs).
        """
        model = mlflow_models.read_directory(path)
        grant = self.api.json("POST", "/downloads", body={"uri": dataset_uri})
        head = transfer(
            "GET", grant["url"], None, self.api.timeout_s, {"Range": f"bytes=0-{mlflow_models.SAMPLE_BYTES - 1}"}
        )
        header, rows = mlflow_models.dataset_sample(head)
        mlflow_models.check_signature(model.inputs, header, rows, target)
        payload = mlflow_models.skops_payload(model, allow_pickle=allow_pickle)
        if model.example_rows and "input_example" not in fields:
            fields["input_example"] = model.example_rows[0]
        return self.register_model(
            name, payload, target=target, dataset_uri=dataset_uri, client_token=client_token, **fields
        )

    # ---- data in and out --------------------------------------------------------------------------------------
    def upload(self, path: str | os.PathLike[str], uri: str | None = None) -> str:
        """Upload a local file (e.g. a training CSV) through a presigned PUT and return its ``s3://`` URI: ``uri`` if
        given (it must be in an allowed dataset location, else Forbidden), else the stack's
        ``datasets/<sha256>/<file name>``: stored by content, so a file changed under the same name gets a new URI
        and the versions trained on the old one stay reproducible; the same bytes again are not sent twice."""
        source = Path(path)
        try:
            payload = source.read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"cannot read {source}: {exc.strerror or exc}") from None
        if uri:
            body: dict[str, Any] = {"uri": uri}
        else:
            body = {"file_name": _key_safe(source.name), "sha256": hashlib.sha256(payload).hexdigest()}
        grant = self.api.json("POST", "/uploads", body=body)
        if not grant.get("exists"):
            transfer("PUT", grant["url"], payload, self.api.timeout_s)
        return grant["uri"]

    def uri_of(self, location: str | os.PathLike[str]) -> str:
        """An ``s3://`` URI as it is; a local file uploaded first (``upload``) and its URI: what every method that
        takes a dataset or input URI does with its argument."""
        text = os.fspath(location)
        if text.startswith("s3://"):
            return text
        if not Path(text).is_file():
            raise ConfigurationError(f"{text!r} is neither an s3:// URI nor a local file")
        return self.upload(text)

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
    cost = record.get("cost") or {}
    flat["cost.training_run_usd"] = (cost.get("training_run") or {}).get("total_usd")
    flat["cost.per_1000_predictions_usd"] = (cost.get("per_1000_predictions") or {}).get("total_usd")
    flat["cost.monitor_monthly_usd"] = (cost.get("monitor_monthly") or {}).get("total_usd")
    prices = cost.get("prices") or {}
    flat["cost.prices"] = f"{prices.get('region')} {prices.get('as_of')}" if prices else None
    return {k: v for k, v in flat.items() if not isinstance(v, list) or len(v) <= 10}


def flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    """``{"a": {"b": 1}}`` as ``{"a.b": 1}`` under ``prefix``."""
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            flatten(f"{prefix}.{key}" if prefix else str(key), inner, into)
    else:
        into[prefix] = value


def _key_safe(file_name: str) -> str:
    """A file name as the upload route accepts it (letters, digits, ``.``, ``_``, ``-``; 128 at most)."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "-" for c in file_name).lstrip("._-")
    return safe[:128] or "data.csv"


def _skops_bytes(model: Any) -> bytes:
    """A fitted model as a skops file, made on the client (the platform never loads a pickle of a caller's)."""
    try:
        import skops.io  # noqa: PLC0415 - optional: only a model to register needs it
    except ImportError as exc:
        raise ConfigurationError(
            "registering a model object needs skops (pip install skops), or pass its bytes"
        ) from exc
    return skops.io.dumps(model)
