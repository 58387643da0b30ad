"""A real local training run records what it used and what that cost on its version: every Lambda step with its
function's configured memory and measured duration, the state transitions and the Distributed Map's child runs,
priced from the price table, whose region and date the card shows."""

from __future__ import annotations

import logging
import os

import pytest

from local.runs.training import error_message, run_training
from local.stack import LocalStack
from mlops.governance import cost
from mlops.records.cost import RunUsage
from mlops.storage import layout, objects
from mlops_client.types import Version
from tests.integration.test_baseline_floor import imbalanced_csv

pytestmark = pytest.mark.integration
CANDIDATES = [
    {"estimator": "logistic_regression", "params": {"C": 1.0, "max_iter": 2000}},
    {"estimator": "random_forest", "params": {"n_estimators": 20}},
]


@pytest.fixture(scope="module")
def run():
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    saved = dict(os.environ)
    with LocalStack() as local_stack:
        os.environ.update(local_stack.environment())
        local_stack.client("s3").put_object(
            Bucket=local_stack.bucket, Key="datasets/claims.csv", Body=imbalanced_csv(2, signal=3.0)
        )
        result = run_training(
            local_stack,
            {
                "model_name": "claims",
                "dataset_uri": f"s3://{local_stack.bucket}/datasets/claims.csv",
                "target": "claim",
                "positive_class": "Yes",
                "candidates": CANDIDATES,
            },
        )
        assert result.deployed, error_message(result.cause)
        record = local_stack.registry().get_version("claims", result.version)
        memory = {
            f["FunctionName"]: f["MemorySize"] for f in local_stack.client("lambda").list_functions()["Functions"]
        }
        card = objects.get_bytes(layout.card(local_stack.bucket, "claims", result.version, "md")).decode()
        yield result, record, memory, card
    os.environ.clear()
    os.environ.update(saved)


def test_the_version_records_each_step_with_its_memory_and_a_plausible_cost(run):
    result, record, memory, _ = run
    usage = RunUsage.model_validate(record.cost["usage"])

    # every Lambda step up to Register, at its function's configured memory
    states = {step.state for step in usage.steps}
    assert {"Prepare", "PlanTrials", "Evaluate", "Register"} <= states, states
    assert all(step.memory_mb == memory[step.function] for step in usage.steps)
    assert all(step.duration_s > 0 for step in usage.steps)
    # the two trials ran as Distributed Map children; locally their Train time is each trial's recorded fit time
    assert usage.map_child_runs == len(CANDIDATES)
    trains = [step for step in usage.steps if step.map_child]
    assert sum(step.invocations for step in trains) == len(CANDIDATES)
    # measured within the run: no step longer than the run so far, which is shorter than the whole execution
    assert sum(step.duration_s for step in usage.steps if not step.map_child) <= usage.duration_s <= result.duration_s
    assert usage.state_transitions >= len(states)
    assert usage.s3_bytes_stored == record.artifact_size_bytes

    # Then its price is the table's arithmetic of that usage, non-zero and of the order docs/deploy.md gives
    priced = cost.price_run(usage, cost.load_prices())
    assert record.cost["training_run"]["total_usd"] == pytest.approx(priced.total_usd, rel=1e-12)
    assert 0 < priced.total_usd < 0.05
    assert record.cost["prices"]["region"] == "us-east-1"


def test_the_card_and_the_sdk_show_the_cost_and_the_prices_date(run):
    _, record, _, card = run
    prices = record.cost["prices"]

    section = card.split("## Cost", 1)[1].split("##", 1)[0]
    assert f"${record.cost['training_run']['total_usd']:.6f}" in section
    assert f"{prices['region']} list prices of {prices['as_of']}" in section

    version = Version.from_document(record.public())
    assert version.cost is not None
    assert version.cost.training_run_usd == record.cost["training_run"]["total_usd"]
    assert (version.cost.prices_region, version.cost.prices_as_of) == (prices["region"], prices["as_of"])
    assert version.cost.state_transitions == record.cost["usage"]["state_transitions"]
