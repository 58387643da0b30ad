"""What a run used and what it cost: the price table's shape, the usage read from a run, and the priced record a
version carries (``VersionContent.cost``).

Pure shapes and arithmetic, no AWS: the usage comes from the run's Step Functions history (mlops.governance.cost),
the prices from one file (``mlops/governance/prices.json``) or a stack override, and every cost here is quantity ×
unit price, kept line by line so the record shows its own arithmetic.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Architecture = Literal["x86_64", "arm64"]
SECONDS_PER_MONTH = 30 * 24 * 3600  # the month the monitor's monthly cost is counted over (30 days)


class CostRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class PriceTable(CostRecord):
    """List prices in USD for one region on one date (``as_of``); ``source`` says where the table came from."""

    region: str = Field(min_length=1)
    as_of: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    currency: Literal["USD"] = "USD"
    source: str = "mlops/governance/prices.json"
    lambda_gb_s: dict[Architecture, float]
    lambda_request: float = Field(ge=0)
    sfn_state_transition: float = Field(ge=0)
    sagemaker_instance_hour: dict[str, float] = Field(default_factory=dict)
    s3_put_request: float = Field(ge=0)
    s3_get_request: float = Field(ge=0)
    s3_gb_month: float = Field(ge=0)
    api_gateway_request: float = Field(ge=0)
    cloudwatch_alarm_month: float = Field(ge=0)
    cloudwatch_metric_month: float = Field(ge=0)

    def reference(self) -> dict[str, str]:
        """What a record keeps of the table: enough to say which prices it used."""
        return {"region": self.region, "as_of": self.as_of, "currency": self.currency, "source": self.source}


class StepUsage(CostRecord):
    """One Lambda task of the run: its state, function, configured memory and architecture, and measured duration
    (the state's TaskStarted → TaskSucceeded/Failed in the history, summed over retries)."""

    state: str
    function: str
    memory_mb: int = Field(gt=0)
    architecture: Architecture = "x86_64"
    duration_s: float = Field(ge=0)
    invocations: int = Field(default=1, ge=1)
    map_child: bool = False  # ran inside a Distributed Map child execution

    @property
    def gb_s(self) -> float:
        return self.memory_mb / 1024 * self.duration_s


class TrainingJobUsage(CostRecord):
    """A SageMaker training job the run started: its instance type and count and its billable seconds."""

    name: str
    instance_type: str
    instance_count: int = Field(default=1, ge=1)
    billable_s: float = Field(ge=0)


class RunUsage(CostRecord):
    """What a run used, as counted from its history (``scope`` says which part of the run)."""

    execution_arn: str
    scope: str
    duration_s: float = Field(ge=0)
    steps: list[StepUsage] = Field(default_factory=list)
    state_transitions: int = Field(default=0, ge=0)
    map_child_runs: int = Field(default=0, ge=0)
    training_jobs: list[TrainingJobUsage] = Field(default_factory=list)
    s3_put_requests: int = Field(default=0, ge=0)
    s3_get_requests: int = Field(default=0, ge=0)
    s3_bytes_stored: int = Field(default=0, ge=0)
    notes: list[str] = Field(default_factory=list)


class CostLine(CostRecord):
    """One priced item: ``quantity`` of ``unit`` at ``unit_price_usd``; ``cost_usd`` is their product."""

    item: str
    quantity: float = Field(ge=0)
    unit: str
    unit_price_usd: float = Field(ge=0)
    cost_usd: float = Field(ge=0)

    @classmethod
    def of(cls, item: str, quantity: float, unit: str, unit_price_usd: float) -> CostLine:
        return cls(
            item=item, quantity=quantity, unit=unit, unit_price_usd=unit_price_usd, cost_usd=quantity * unit_price_usd
        )


class PricedUsage(CostRecord):
    """Priced lines and their total."""

    lines: list[CostLine] = Field(default_factory=list)
    total_usd: float = Field(default=0.0, ge=0)

    @classmethod
    def of(cls, lines: list[CostLine]) -> PricedUsage:
        return cls(lines=lines, total_usd=sum(line.cost_usd for line in lines))


class VersionCost(CostRecord):
    """The cost a version carries: its training run (with the usage it was priced from), 1,000 predictions, and a
    month of the monitor's drift checks, each priced from the same table (``prices``)."""

    prices: dict[str, str]
    training_run: PricedUsage
    usage: RunUsage
    per_1000_predictions: PricedUsage | None = None
    per_1000_predictions_basis: dict[str, Any] | None = None
    monitor_monthly: PricedUsage | None = None
    monitor_monthly_basis: dict[str, Any] | None = None
