"""Things that run on after the call that started them: a training run (`Run`) and a batch job (`BatchJob`), each
followed by polling with a deadline."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlops_client.errors import WaitTimeout
from mlops_client.types import TERMINAL_STATUSES, Gate

if TYPE_CHECKING:
    from mlops_client.client import Client

StepCallback = Callable[["Run", dict[str, Any]], None]


class _Execution:
    """What a Step Functions execution the SDK follows answers alike: its id, its status as of the last read, whether
    it ended, and its error."""

    document: dict[str, Any]

    @property
    def execution_id(self) -> str:
        return self.document["execution_id"]

    @property
    def status(self) -> str:
        return self.document["status"]

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def error(self) -> str | None:
        return self.document.get("error")


class Run(_Execution):
    """A TrainingPipeline run. ``status`` is as of the last read (``refresh()`` reads again, ``wait()`` until it ends);
    ``version`` is the version it registered, once it has."""

    def __init__(
        self,
        client: Client,
        document: dict[str, Any],
        *,
        started: bool | None = None,
        client_token: str | None = None,
        model_name: str | None = None,
    ) -> None:
        self._client = client
        self.document: dict[str, Any] = document
        self.started = started  # True: this call started it; False: the client token named a run already started
        self.client_token = client_token  # what a retry sends to get this run back instead of a second one
        self._model_name = model_name

    def __repr__(self) -> str:
        return f"Run({self.execution_id!r}, status={self.status!r}, version={self.version!r})"

    @property
    def model_name(self) -> str | None:
        return self.document.get("model_name") or self._model_name

    @property
    def version(self) -> int | None:
        return (self.document.get("registration") or {}).get("version")

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self.document.get("metrics") or {})

    @property
    def gate(self) -> Gate:
        return Gate.from_document(self.document.get("gate"))

    @property
    def deployed(self) -> bool:
        deployment = self.document.get("deployment") or {}
        return bool(deployment) and bool(deployment.get("deployed", True))

    @property
    def steps(self) -> list[dict[str, Any]]:
        """The states entered and exited so far (read by ``refresh(steps=True)`` and ``wait()``)."""
        return list(self.document.get("steps") or [])

    def refresh(self, *, steps: bool = True) -> Run:
        """Read the run's status (and, with ``steps``, the states it went through) again; returns itself."""
        self.document = self._client.api.json(
            "GET", f"/pipelines/training/{self.execution_id}", query={"steps": True} if steps else None
        )
        return self

    def wait(
        self,
        *,
        progress: bool = False,
        timeout_s: float = 3600.0,
        poll_interval_s: float = 0.5,
        on_step: StepCallback | None = None,
        on_update: Callable[[Run], None] | None = None,
    ) -> Run:
        """Poll until the run ends (SUCCEEDED, FAILED, TIMED_OUT, ABORTED) and return it; a failed run is returned,
        not raised (look at ``status`` and ``error``). ``progress`` prints each state as it is entered (→) and left
        (✓) to stderr; ``on_step(run, step)`` is called for each, ``on_update(run)`` after every read. Raises
        WaitTimeout after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        seen = 0
        while True:
            self.refresh(steps=True)
            for step in self.steps[seen:]:
                if progress:
                    _print_step(self, step)
                if on_step is not None:
                    on_step(self, step)
            seen = len(self.steps)
            if on_update is not None:
                on_update(self)
            if self.done:
                return self
            if time.monotonic() > deadline:
                raise WaitTimeout(f"run {self.execution_id} still {self.status} after {timeout_s:.0f} s")
            time.sleep(poll_interval_s)


def seconds_since_start(run: Run, step: dict[str, Any]) -> float:
    """When a step happened, in seconds since the run started."""
    return (datetime.fromisoformat(step["at"]) - datetime.fromisoformat(run.document["started_at"])).total_seconds()


def _print_step(run: Run, step: dict[str, Any]) -> None:
    mark = "→" if step["event"] == "entered" else "✓"
    print(f"  {seconds_since_start(run, step):7.2f}s  {mark} {step['state']}", file=sys.stderr, flush=True)


class BatchJob:
    """A BatchTransform job: a CSV in S3 scored by a model's alias. Counts and output URIs once it ended."""

    def __init__(self, client: Client, document: dict[str, Any]) -> None:
        self._client = client
        self.document: dict[str, Any] = document

    def __repr__(self) -> str:
        return f"BatchJob({self.job_id!r}, status={self.status!r})"

    @property
    def job_id(self) -> str:
        return self.document["job_id"]

    @property
    def model_name(self) -> str:
        return self.document["model_name"]

    @property
    def status(self) -> str:
        return self.document["status"]

    @property
    def done(self) -> bool:
        return self.status != "RUNNING"

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def rows(self) -> int | None:
        return self.document.get("rows")

    @property
    def scored(self) -> int | None:
        return self.document.get("scored")

    @property
    def invalid(self) -> int | None:
        return self.document.get("invalid")

    @property
    def output_uri(self) -> str | None:
        return self.document.get("output_uri")

    @property
    def errors_uri(self) -> str | None:
        return self.document.get("errors_uri")

    def refresh(self) -> BatchJob:
        """Read the job's status (and counts, once it ended) again; returns itself."""
        self.document = self._client.api.json("GET", f"/models/{self.model_name}/batch-jobs/{self.job_id}")
        return self

    def wait(self, *, timeout_s: float = 3600.0, poll_interval_s: float = 0.5) -> BatchJob:
        """Poll until the job ends and return it (a FAILED job is returned, not raised); WaitTimeout after
        ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not self.done:
            if time.monotonic() > deadline:
                raise WaitTimeout(f"job {self.job_id} still {self.status} after {timeout_s:.0f} s")
            time.sleep(poll_interval_s)
            self.refresh()
        return self


class DriftCheck(_Execution):
    """A drift check started on demand (the DriftCheck execution the schedule starts). Once it ended, ``check``
    holds its summary (``check_id``, ``status``, ``drift_confirmed``, ``decision``, report URIs), and
    ``Client.drift_report(name, check.check_id)`` its HTML report."""

    def __init__(self, client: Client, document: dict[str, Any], *, client_token: str | None = None) -> None:
        self._client = client
        self.document: dict[str, Any] = document
        self.client_token = client_token  # what a retry sends to get this check back instead of a second one

    def __repr__(self) -> str:
        return f"DriftCheck({self.execution_id!r}, status={self.status!r})"

    @property
    def model_name(self) -> str:
        return self.document["model_name"]

    @property
    def started(self) -> bool:
        """True: this call started it; False: the client token named a check already started."""
        return bool(self.document.get("started", True))

    @property
    def check(self) -> dict[str, Any]:
        return dict(self.document.get("check") or {})

    @property
    def check_id(self) -> str | None:
        return self.check.get("check_id")

    def refresh(self) -> DriftCheck:
        """Read the check's status (and summary, once it ended) again; returns itself."""
        started = self.document.get("started")
        self.document = self._client.api.json("GET", f"/models/{self.model_name}/monitoring/checks/{self.execution_id}")
        if started is not None:
            self.document["started"] = started
        return self

    def wait(self, *, timeout_s: float = 900.0, poll_interval_s: float = 0.5) -> DriftCheck:
        """Poll until the check ends and return it (a FAILED check is returned, not raised: see ``error``);
        WaitTimeout after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not self.done:
            if time.monotonic() > deadline:
                raise WaitTimeout(f"drift check {self.execution_id} still {self.status} after {timeout_s:.0f} s")
            time.sleep(poll_interval_s)
            self.refresh()
        return self
