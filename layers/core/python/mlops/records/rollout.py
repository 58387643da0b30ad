"""The record a progressive rollout carries through the state machine (``$.rollout``). Pydantic only, so the step
contracts can type it without importing the registry."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Outcome = Literal["baking", "promoted", "rolled_back"]


class RolloutState(BaseModel):
    """Where a progressive rollout stands (the state machine's ``$.rollout``)."""

    model_config = ConfigDict(extra="ignore")
    strategy: Literal["canary", "linear", "shadow"]
    model_name: str
    version: int = Field(ge=1)
    champion_version: int | None = None
    step: int = Field(default=0, ge=0, description="0-based index into weights")
    weights: list[float] = Field(min_length=1, description="the new version's share at each step (0: a shadow)")
    bake_s: int = Field(ge=0)
    step_started_at: float = 0.0
    outcome: Outcome = "baking"
    reason: str = ""
    shadow_report: dict[str, Any] | None = Field(
        default=None, description="a shadow's replay of the bake (the predict function's shadow_replay answer)"
    )

    @property
    def weight(self) -> float:
        return self.weights[self.step]

    def document(self) -> dict[str, Any]:
        return {**self.model_dump(mode="json"), "weight": self.weight}
