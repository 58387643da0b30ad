"""The Register step's cost record: what the run used up to and including Register (measured so far), priced.

Read from the run's own Step Functions history (mlops.governance.cost); the rest of the run (approval, smoke test,
rollout) comes after the version is written and is not included: the usage's ``scope`` says so. A run whose history
cannot be read (a missing permission, a throttled API) still registers its version; the record then says why it
has no cost, so a cost is never silently zero.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlops.governance import cost
from mlops.records.cost import PriceTable, VersionCost
from mlops.settings import MissingSetting
from mlops.storage import clients


@dataclass(frozen=True)
class CostSettings:
    """Where the price table comes from: the stack's PriceTableUri (an s3:// JSON document under the artifacts
    bucket's ``prices/``), or, left blank, the table shipped with the code (mlops/governance/prices.json)."""

    price_table_uri: str | None

    ENVIRONMENT_VARIABLES = ("PRICE_TABLE_URI",)  # the template contract checks the Register function gets it

    @classmethod
    def from_environment(cls) -> CostSettings:
        if "PRICE_TABLE_URI" not in os.environ:
            raise MissingSetting("environment variable PRICE_TABLE_URI is not set; the template must set it")
        return cls(os.environ["PRICE_TABLE_URI"] or None)


SCOPE = "Prepare through Register (Register measured up to the version's write); approval and deployment not included"


def run_cost_reader(
    execution_arn: str,
    settings: CostSettings,
    *,
    sfn_client: Any | None = None,
    lambda_client: Any | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Callable[[list[dict[str, Any]], int], dict[str, Any]]:
    """A function of the run's leaderboard entries and the model's stored bytes that returns the version's cost."""

    def read(leaderboard_entries: list[dict[str, Any]], model_bytes: int) -> dict[str, Any]:
        prices = cost.load_prices(settings.price_table_uri)
        sfn = sfn_client or clients.client("stepfunctions")
        try:
            usage = cost.read_run_usage(
                execution_arn,
                scope=SCOPE,
                sfn_client=sfn,
                lambda_client=lambda_client or clients.client("lambda"),
                now=now(),
                trial_fit_s=[
                    float(entry["fit_s"])
                    for entry in leaderboard_entries
                    if entry.get("status") == "trained"
                    and entry.get("compute", "lambda") == "lambda"
                    and entry.get("fit_s") is not None
                ],
                train_function=_map_function(sfn, execution_arn),
            )
        except (ClientError, BotoCoreError) as exc:
            return {"prices": prices.reference(), "unavailable": f"the run's history could not be read: {exc}"}
        notes = [*usage.notes, "S3: the model's bytes stored for a month; the run's other requests are not counted"]
        try:
            return version_cost(usage.model_copy(update={"s3_bytes_stored": model_bytes, "notes": notes}), prices)
        except ValueError as exc:  # an instance type the table does not price: the version is registered without
            return {"prices": prices.reference(), "unavailable": str(exc), "usage": usage.to_document()}

    return read


def version_cost(usage: Any, prices: PriceTable) -> dict[str, Any]:
    return VersionCost(prices=prices.reference(), training_run=cost.price_run(usage, prices), usage=usage).to_document()


def _map_function(sfn_client: Any, execution_arn: str) -> str | None:
    """The Lambda function a Map's item processor invokes (the Train function), from the run's definition."""
    definition = json.loads(sfn_client.describe_state_machine_for_execution(executionArn=execution_arn)["definition"])
    for state in definition.get("States", {}).values():
        processor = state.get("ItemProcessor") or state.get("Iterator")
        for inner in (processor or {}).get("States", {}).values():
            function = (inner.get("Parameters") or {}).get("FunctionName")
            if inner.get("Type") == "Task" and function:
                return str(function)
    return None
