"""The schedule's arithmetic (each model checked once per rate, whatever the tick's phase), the schedule settings'
validation, and where feedback rows go in a split."""

from __future__ import annotations

import numpy as np
import pytest

from mlops.errors import InvalidMonitoringConfig
from mlops.monitoring.check import retraining_request
from mlops.monitoring.config import MonitoringConfig, rate_seconds
from mlops.monitoring.schedule import execution_name, is_due, period_seconds
from mlops.records.request import FeedbackRows
from mlops.training.feedback_rows import place_in_splits


@pytest.mark.parametrize("phase_s", [0, 1, 1_017, 3_599])
@pytest.mark.parametrize(
    ("rate", "checks_in_two_days"), [("rate(1 day)", 2), ("rate(6 hours)", 8), ("rate(90 minutes)", 32)]
)
def test_each_model_is_due_once_per_rate_whatever_the_ticks_phase(phase_s, rate, checks_in_two_days):
    # Given hourly ticks starting at an arbitrary second of the hour (a schedule runs from its creation time)
    ticks = [1_800_000_000 - 1_800_000_000 % 86_400 + phase_s + hour * 3600 for hour in range(48)]
    period = period_seconds(rate, "rate(1 hour)")
    due = [t for t in ticks if is_due(t, 3600, period)]
    # Then the model is due exactly once per interval, and a repeated tick names the same execution
    assert len(due) == checks_in_two_days
    assert execution_name("bc", due[0] // period) == execution_name("bc", due[0] // period)
    assert execution_name("bc", due[0] // period) != execution_name("bc", due[1] // period)


def test_a_rate_finer_than_the_tick_runs_at_every_tick():
    assert period_seconds("rate(5 minutes)", "rate(1 hour)") == 3600
    assert all(is_due(t, 3600, 3600) for t in range(0, 10 * 3600, 3600))


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"schedule": {"rate": "cron(0 * * * ? *)"}}, "schedule.rate"),
        ({"schedule": {"rate": "rate(31 days)"}}, "schedule.rate"),
        ({"schedule": {"enabled": 1}}, "schedule.enabled"),
        ({"schedule": "daily"}, "schedule must be an object"),
        ({"consecutive_windows": True}, "consecutive_windows"),
        ({"retrain_on_drift": "yes"}, "retrain_on_drift"),
        ({"retraining_feedback": {"holdout_share": 1.5}}, "retraining_feedback.holdout_share"),
        ({"retraining_feedback": {"weights": 2}}, "retraining_feedback.weights"),
    ],
)
def test_invalid_settings_name_their_field(settings, field):
    with pytest.raises(InvalidMonitoringConfig, match=field.replace(".", r"\.")):
        MonitoringConfig.merged(MonitoringConfig(), settings)


def test_valid_schedule_settings_merge_over_the_stacks():
    config = MonitoringConfig.merged(MonitoringConfig(), {"schedule": {"rate": "rate(6 hours)"}})
    assert (config.schedule.enabled, config.schedule.rate) == (True, "rate(6 hours)")
    assert rate_seconds("rate(1 minute)") == 60 and rate_seconds("rate(2 days)") == 172_800
    assert config.to_dict()["schedule"] == {"enabled": True, "rate": "rate(6 hours)"}


def test_a_drift_retraining_asks_for_the_feedback_rows_its_settings_name():
    record = {
        "training_request": {"model_name": "bc", "dataset_uri": "s3://b/datasets/bc.csv", "target": "target"},
    }
    config = MonitoringConfig.merged(MonitoringConfig(), {"retraining_feedback": {"weight": 3, "window_hours": 24}})
    request = retraining_request(record, config, "check-1", "drift confirmed")
    assert request["feedback"] == {"weight": 3, "window_hours": 24.0, "holdout_share": 0.3, "max_rows": 100_000}
    assert "feedback" not in retraining_request(record, MonitoringConfig(), "check-2", "drift confirmed")


def test_feedback_rows_go_newest_to_the_holdout_and_weighted_to_training():
    # Given a split of 10 original rows and 5 labelled rows (positions 10..14, oldest first) scattered over it
    split = {
        "train": np.array([0, 1, 2, 3, 10, 12]),
        "validation": np.array([4, 5, 11]),
        "test": np.array([6, 7, 8, 9, 13, 14]),
    }
    placed, counts = place_in_splits(split, total_rows=15, labelled_rows=5, holdout_share=0.4, weight=2)
    # Then the newest 2 are tested on, the 3 older trained on twice each, and none straddles two splits
    assert counts == {"test": 2, "train": 3}
    assert placed["test"].tolist() == [6, 7, 8, 9, 13, 14]
    assert placed["validation"].tolist() == [4, 5]
    assert placed["train"].tolist() == [0, 1, 2, 3, 10, 10, 11, 11, 12, 12]


def test_feedback_settings_are_strict_json():
    assert FeedbackRows.model_validate({"window_hours": 24}).window_hours == 24.0
    with pytest.raises(ValueError, match="weight"):
        FeedbackRows.model_validate({"weight": "2"})


def test_a_tick_plans_every_deployed_model_past_a_batch_of_reads(stack):
    # Given 230 models with a production alias (more than one BatchGetItem of 100 keys), a few with settings
    from mlops.monitoring.schedule import plan_tick  # noqa: PLC0415
    from mlops.monitoring.store import MonitoringStore  # noqa: PLC0415
    from mlops.storage.table import ModelTable  # noqa: PLC0415

    dynamodb = stack.client("dynamodb")
    names = [f"model-{i:03d}" for i in range(230)]
    for name in names:
        dynamodb.put_item(
            TableName=stack.alias_table, Item={"pk": {"S": f"MODEL#{name}"}, "sk": {"S": "ALIAS#production"}}
        )
    dynamodb.put_item(  # a model with only a staging alias is not deployed: not planned
        TableName=stack.alias_table, Item={"pk": {"S": "MODEL#staged"}, "sk": {"S": "ALIAS#staging"}}
    )
    monitors = MonitoringStore(stack.monitor_table)
    monitors.set_config("model-007", {"schedule": {"enabled": False}})
    monitors.set_config("model-150", {"schedule": {"rate": "rate(6 hours)"}})
    monitors.set_config("model-222", {"schedule": {"rate": "sometimes"}})  # written around the API's validation
    midnight, six = 1_800_000_000 - 1_800_000_000 % 86_400, 6 * 3600
    # When the ticks at midnight and at 06:00 UTC are planned (hourly ticks, the stack's rate daily)
    plans = [
        plan_tick(
            at,
            default_rate="rate(1 day)",
            tick_rate="rate(1 hour)",
            aliases=ModelTable(stack.alias_table),
            monitors=monitors,
        )
        for at in (midnight, midnight + six)
    ]
    # Then midnight checks every deployed model but the stopped one (the refused setting falls back to the stack's)
    assert plans[0].models == 230
    assert [c.model_name for c in plans[0].due] == [n for n in names if n != "model-007"]
    assert plans[0].disabled == ["model-007"] and plans[0].invalid == ["model-222"]
    # and 06:00 only the 6-hourly one
    assert [c.model_name for c in plans[1].due] == ["model-150"] and plans[1].not_due == 228
