"""Cost records are the arithmetic of their inputs: durations read from a history, the functions' memory, the
price table's prices; the table says its region and date and a stack can replace it."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws
from pydantic import ValidationError

from mlops.governance import cost
from mlops.records.cost import RunUsage, StepUsage, TrainingJobUsage

T0 = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)
PREPARE = "arn:aws:lambda:us-east-1:123456789012:function:stack-PrepareFunction-abc"
REGISTER = "arn:aws:lambda:us-east-1:123456789012:function:stack-RegisterFunction-abc"
MEMORY = {PREPARE: (2048, "x86_64"), REGISTER: (1024, "arm64")}


class History:
    """A Step Functions history built event by event, ids and previous ids chained as the service writes them."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def add(self, kind: str, at_s: float, details: dict | None = None, previous: int | None = None) -> int:
        event_id = len(self.events) + 1
        key = {"TaskStateEntered": "stateEnteredEventDetails", "ChoiceStateEntered": "stateEnteredEventDetails"}.get(
            kind, f"{kind[0].lower()}{kind[1:]}EventDetails"
        )
        self.events.append(
            {
                "id": event_id,
                "previousEventId": previous if previous is not None else event_id - 1,
                "timestamp": T0 + timedelta(seconds=at_s),
                "type": kind,
                key: details or {},
            }
        )
        return event_id

    def lambda_task(self, state: str, function: str, started_s: float, ended_s: float | None, *, fail_first=False):
        self.add("TaskStateEntered", started_s, {"name": state})
        for attempt_end in ([started_s + 1.0] if fail_first else []) + ([ended_s] if ended_s is not None else [None]):
            scheduled = self.add(
                "TaskScheduled",
                started_s,
                {"resourceType": "lambda", "resource": "invoke", "parameters": json.dumps({"FunctionName": function})},
            )
            task = self.add("TaskStarted", started_s, {"resourceType": "lambda"}, previous=scheduled)
            if attempt_end is None:
                return
            kind = "TaskFailed" if fail_first and attempt_end == started_s + 1.0 else "TaskSucceeded"
            self.add(kind, attempt_end, {"resourceType": "lambda"}, previous=task)
            started_s = attempt_end
        self.add("TaskStateExited", ended_s, {"name": state})


def test_lambda_durations_memory_and_transitions_come_from_the_history():
    # Given Prepare retried once (1.0 s failed + 2.5 s), a Choice, then Register still running at +10 s
    history = History()
    history.add("ExecutionStarted", 0)
    history.lambda_task("Prepare", PREPARE, 0.0, 3.5, fail_first=True)
    history.add("ChoiceStateEntered", 3.5, {"name": "Converted?"})
    history.lambda_task("Register", REGISTER, 4.0, None)

    # When its usage is read at +10 s
    steps, transitions, jobs, map_runs = cost.usage_from_history(
        history.events, MEMORY.__getitem__, now=T0 + timedelta(seconds=10)
    )

    # Then Prepare counts both attempts (3.5 s over 2 invocations), Register its 6 s so far, 3 states entered
    by_state = {step.state: step for step in steps}
    assert (by_state["Prepare"].duration_s, by_state["Prepare"].invocations) == (3.5, 2)
    assert (by_state["Prepare"].memory_mb, by_state["Prepare"].architecture) == (2048, "x86_64")
    assert by_state["Register"].duration_s == 6.0
    assert by_state["Register"].architecture == "arm64"
    assert by_state["Prepare"].gb_s == 2.0 * 3.5
    assert transitions == 3
    assert (jobs, map_runs) == ([], [])


def test_a_sagemaker_task_and_a_map_run_are_read_from_the_history():
    history = History()
    history.add("TaskStateEntered", 0, {"name": "TrainOnSageMaker"})
    history.add(
        "TaskSucceeded",
        50,
        {
            "resourceType": "sagemaker",
            "output": json.dumps(
                {
                    "TrainingJobName": "job-1",
                    "BillableTimeInSeconds": 612,
                    "ResourceConfig": {"InstanceType": "ml.m5.2xlarge", "InstanceCount": 2},
                }
            ),
        },
    )
    history.add("MapRunStarted", 51, {"mapRunArn": "arn:aws:states:us-east-1:1:mapRun:sm/label:id"})

    _, _, jobs, map_runs = cost.usage_from_history(history.events, MEMORY.__getitem__)

    assert jobs == [TrainingJobUsage(name="job-1", instance_type="ml.m5.2xlarge", instance_count=2, billable_s=612)]
    assert map_runs == ["arn:aws:states:us-east-1:1:mapRun:sm/label:id"]


def test_a_run_is_priced_as_quantity_times_list_price_line_by_line():
    prices = cost.load_prices()
    usage = RunUsage(
        execution_arn="arn:aws:states:us-east-1:1:execution:sm:run",
        scope="test",
        duration_s=60,
        steps=[
            StepUsage(state="Prepare", function="p", memory_mb=2048, duration_s=3.8),
            StepUsage(state="Train", function="t", memory_mb=3008, duration_s=3.6, invocations=3, map_child=True),
            StepUsage(state="Register", function="r", memory_mb=1024, architecture="arm64", duration_s=10.3),
        ],
        state_transitions=17,
        map_child_runs=3,
        training_jobs=[TrainingJobUsage(name="j", instance_type="ml.m5.large", instance_count=2, billable_s=900)],
        s3_bytes_stored=3 * 1024**3,
    )

    priced = cost.price_run(usage, prices)

    x86_gb_s = 2 * 3.8 + 3008 / 1024 * 3.6
    expected = {
        "Lambda compute (x86_64)": x86_gb_s * prices.lambda_gb_s["x86_64"],
        "Lambda compute (arm64)": 10.3 * prices.lambda_gb_s["arm64"],
        "Lambda requests": 5 * prices.lambda_request,
        "Step Functions": 17 * prices.sfn_state_transition,
        "SageMaker ml.m5.large (j)": 0.5 * prices.sagemaker_instance_hour["ml.m5.large"],
        "S3 storage": 3 * prices.s3_gb_month,
    }
    assert {line.item: line.cost_usd for line in priced.lines} == pytest.approx(expected, rel=1e-12)
    assert priced.total_usd == pytest.approx(sum(expected.values()), rel=1e-12)


def test_a_training_job_on_an_instance_the_table_does_not_price_is_refused_by_name():
    usage = RunUsage(
        execution_arn="a",
        scope="s",
        duration_s=1,
        training_jobs=[TrainingJobUsage(name="j", instance_type="ml.p5.48xlarge", billable_s=1)],
    )
    with pytest.raises(ValueError, match=r"no price for ml\.p5\.48xlarge"):
        cost.price_run(usage, cost.load_prices())


def test_a_thousand_predictions_bill_each_request_to_the_next_millisecond():
    prices = cost.load_prices()

    priced = cost.price_predictions(4.2, 1024, "x86_64", prices)

    compute = 1000 * 0.005 * 1.0 * prices.lambda_gb_s["x86_64"]  # 4.2 ms billed as 5 ms, 1 GB
    requests = 1000 * (prices.api_gateway_request + prices.lambda_request)
    assert priced.total_usd == pytest.approx(compute + requests, rel=1e-12)
    assert priced.total_usd == pytest.approx(0.0037833, rel=1e-4)  # docs/deploy.md: without logs, Firehose, X-Ray


def test_the_monitor_costs_its_check_times_the_schedule_rate():
    prices = cost.load_prices()
    per_month = cost.checks_per_month("rate(1 day)")

    priced = cost.price_monitor_month(
        12.5, 2048, "arm64", checks_per_month=per_month, transitions_per_check=6, prices=prices
    )

    assert per_month == 30
    assert cost.checks_per_month("rate(15 minutes)") == 30 * 96
    expected = 30 * (12.5 * 2 * prices.lambda_gb_s["arm64"] + prices.lambda_request + 6 * prices.sfn_state_transition)
    assert priced.total_usd == pytest.approx(expected, rel=1e-12)


def test_the_shipped_price_table_says_its_region_and_date_and_matches_the_deploy_doc():
    prices = cost.load_prices()

    assert prices.reference()["region"] == "us-east-1"
    assert datetime.strptime(prices.as_of, "%Y-%m-%d")
    # the numbers docs/deploy.md's "What it costs" uses
    assert prices.lambda_gb_s == {"x86_64": 0.0000166667, "arm64": 0.0000133334}
    assert math.isclose(prices.sfn_state_transition * 1000, 0.025)
    rows = dict(cost.summary_rows(cost.summary({"prices": prices.reference(), "unavailable": "no history"})))
    assert "us-east-1" in rows["Prices"] and prices.as_of in rows["Prices"]


@mock_aws
def test_a_stack_price_table_replaces_the_shipped_one_and_a_bad_one_is_refused():
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="artifacts")
    table = {**cost.load_prices().model_dump(exclude={"source"}), "region": "eu-west-1", "as_of": "2026-11-01"}
    table["lambda_gb_s"] = {"x86_64": 0.00002, "arm64": 0.000016}
    s3.put_object(Bucket="artifacts", Key="prices/eu.json", Body=json.dumps(table))
    s3.put_object(Bucket="artifacts", Key="prices/bad.json", Body=json.dumps({**table, "as_of": "last week"}))

    prices = cost.load_prices("s3://artifacts/prices/eu.json")

    assert prices.reference() == {
        "region": "eu-west-1",
        "as_of": "2026-11-01",
        "currency": "USD",
        "source": "s3://artifacts/prices/eu.json",
    }
    assert prices.lambda_gb_s["x86_64"] == 0.00002
    with pytest.raises(ValidationError, match="as_of"):
        cost.load_prices("s3://artifacts/prices/bad.json")


def test_versions_show_and_the_sdk_read_the_cost_a_record_carries():
    from mlops_client.client import comparable_fields  # noqa: PLC0415 - the client's HTTP stack, this test only
    from mlops_client.types import Cost  # noqa: PLC0415

    prices = cost.load_prices()
    usage = RunUsage(
        execution_arn="a",
        scope="Prepare through Register",
        duration_s=9,
        steps=[StepUsage(state="Prepare", function="p", memory_mb=2048, duration_s=4.0)],
        state_transitions=5,
        map_child_runs=2,
    )
    document = {
        "prices": prices.reference(),
        "training_run": cost.price_run(usage, prices).to_document(),
        "usage": usage.to_document(),
    }

    flat = comparable_fields({"cost": document})
    typed = Cost.from_document(document)

    total = 8.0 * prices.lambda_gb_s["x86_64"] + prices.lambda_request + 5 * prices.sfn_state_transition
    assert flat["cost.training_run_usd"] == pytest.approx(total, rel=1e-12)
    assert flat["cost.prices"] == f"us-east-1 {prices.as_of}"
    assert flat["cost.per_1000_predictions_usd"] is None
    assert typed is not None
    assert (typed.lambda_gb_s, typed.state_transitions, typed.map_child_runs) == (8.0, 5, 2)
    assert Cost.from_document(None) is None


def test_a_run_on_an_unpriced_instance_still_registers_and_says_why_it_has_no_cost():
    from mlops.training import run_cost  # noqa: PLC0415

    usage = RunUsage(
        execution_arn="a",
        scope="s",
        duration_s=1,
        training_jobs=[TrainingJobUsage(name="j", instance_type="ml.c7i.large", billable_s=60)],
    )

    reader = run_cost.run_cost_reader(
        "arn:aws:states:us-east-1:1:execution:sm:run",
        run_cost.CostSettings(price_table_uri=None),
        sfn_client=FakeStepFunctions(),
        lambda_client=object(),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cost, "read_run_usage", lambda *args, **kwargs: usage)
        document = reader([], 100)

    assert "no price for ml.c7i.large" in document["unavailable"]
    assert document["prices"]["region"] == "us-east-1"
    assert document["usage"]["training_jobs"][0]["instance_type"] == "ml.c7i.large"


class FakeStepFunctions:
    def describe_state_machine_for_execution(self, executionArn):  # noqa: N803 - boto3's parameter name
        return {"definition": json.dumps({"States": {}})}
