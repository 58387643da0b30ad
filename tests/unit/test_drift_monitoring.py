"""The monitor's decisions on the embedded AWS (no state machine): windows since the last check, confirmation over
consecutive windows, the cooldown, insufficient data, ground truth, notifications only on news, the drift handler."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from local.runs.drift_files import compare_files, read_reference
from local.stack import LocalStack
from mlops.data.baseline import categorical_baseline
from mlops.errors import BaselineUnavailable, InvalidFeedback, NothingToMonitor, VersionConflict
from mlops.monitoring.check import retraining_execution_name, run_check
from mlops.monitoring.config import DriftConfig, MonitoringConfig
from mlops.monitoring.decision import evaluate
from mlops.monitoring.feedback import accept_feedback
from mlops.monitoring.reference import Reference, baseline_of_columns
from mlops.monitoring.store import MonitoringStore
from mlops.monitoring.window import Window, WindowFeeder, add_columns
from mlops.storage import objects
from mlops.storage.objects import S3Uri
from tests.conftest import load_event
from tests.factories import version_content

MODEL = "churn"
FEATURES = ["tenure", "spend", "visits", "plan"]
TRAINING_REQUEST = {
    "model_name": MODEL,
    "dataset_uri": "s3://somewhere/churn.csv",
    "target": "churned",
    "task": "classification",
    "candidates": [{"estimator": "logistic_regression", "params": {}}],
    "gate": {"metric": "f1", "min_score": None, "min_improvement": 0.001},
    "split": {"seed": 42, "validation_fraction": 0.2, "test_fraction": 0.2},
    "approval": {"required": False, "timeout_s": 3600},
    "requested_by": "tests",
    "description": "churn model",
    "code_version": "abc",  # Prepare adds it; it is not a request field and must not be sent back
}
DEFAULTS = MonitoringConfig(capture_settle_s=0.0)


def rows(rng: np.random.Generator, count: int, *, shifted: bool = False) -> list[dict]:
    return [
        {
            "tenure": float(rng.normal(24, 6) + (12 if shifted else 0)),
            "spend": float(rng.lognormal(3, 0.4) * (2.5 if shifted else 1)),
            "visits": float(rng.poisson(4)),
            "plan": str(rng.choice(["basic", "plus", "pro"], p=[0.5, 0.3, 0.2])),
        }
        for _ in range(count)
    ]


def register(stack: LocalStack, *, version_note: str = "v", features_baseline: dict | None = None) -> int:
    """A registered, deployed version with a baseline computed by the pipeline's own functions (or the one given)."""
    rng = np.random.default_rng(len(version_note))
    training = rows(rng, 2_000)
    columns = {name: [row[name] for row in training] for name in FEATURES}
    columns = {name: np.array(values) if name != "plan" else values for name, values in columns.items()}
    predictions = categorical_baseline(np.array(rng.choice(["0", "1"], 400, p=[0.7, 0.3]), dtype=object))
    schema = {
        "features": [{"name": n, "kind": "categorical" if n == "plan" else "numeric"} for n in FEATURES],
        "target": "churned",
        "task": "classification",
        "classes": ["0", "1"],
        "positive_class": "1",
    }
    statistics = features_baseline if features_baseline is not None else baseline_of_columns(columns)
    baseline = {"features": {"rows": 2_000, "features": statistics}, "predictions": predictions}
    uri = S3Uri(stack.bucket, f"baselines/{MODEL}/{uuid.uuid4().hex}.json")
    objects.put_json(uri, {**baseline, "schema": schema})
    registry = stack.registry()
    record = version_content(
        schema=schema, metrics={"accuracy": 0.9, "f1": 0.8}, baseline_uri=str(uri), training_request=TRAINING_REQUEST
    )
    version, _ = registry.register_version(
        MODEL, record, status="Registered", run_id=uuid.uuid4().hex, actor="tests", reason="tests"
    )
    registry.set_alias(MODEL, version, actor="tests", reason="tests")
    return version


class Clock:
    """Instants for captures and checks, strictly increasing and close to the real time (S3's LastModified is
    real): a check always comes strictly after every record captured before it, with no sleep."""

    def __init__(self) -> None:
        self.last = 0.0

    def tick(self) -> float:
        self.last = max(time.time(), self.last + 0.001)
        return self.last


CLOCK = Clock()


def capture(stack: LocalStack, version: int, batch: list[dict], *, predictions: list[str] | None = None) -> list[str]:
    """Write capture the way Firehose delivers it (JSON lines under capture/<model>/dt=<day>/)."""
    now = CLOCK.tick()
    ids = [f"{uuid.uuid4().hex}:{i}" for i in range(len(batch))]
    if predictions is None:  # as the holdout's: 70% "0"
        predictions = [str(p) for p in np.random.default_rng(len(batch)).choice([0, 1], len(batch), p=[0.7, 0.3])]
    lines = []
    for start in range(0, len(batch), 100):
        records = [
            {"inference_id": ids[i], "version": version, "prediction": predictions[i], "features": batch[i]}
            for i in range(start, min(start + 100, len(batch)))
        ]
        lines.append(
            json.dumps(
                {
                    "capture": "mlops.capture.v1",
                    "model_name": MODEL,
                    "version": version,
                    "timestamp": now,
                    "records": records,
                }
            )
        )
    day = datetime.fromtimestamp(now, UTC).date().isoformat()
    stack.client("s3").put_object(
        Bucket=stack.bucket, Key=f"capture/{MODEL}/dt={day}/stream-{uuid.uuid4()}", Body="\n".join(lines).encode()
    )
    return ids


def check(stack: LocalStack, **overrides) -> tuple[dict, dict]:
    return run_check(
        MODEL,
        check_id=f"check-{uuid.uuid4().hex[:8]}",
        bucket=stack.bucket,
        registry=stack.registry(),
        store=MonitoringStore(stack.monitor_table),
        defaults=DEFAULTS,
        overrides=overrides or None,
        now=CLOCK.tick(),  # every record captured so far is strictly before "now"
    )


@pytest.fixture
def deployed(stack: LocalStack) -> int:
    return register(stack)


def test_a_window_like_training_is_ok_and_writes_both_reports(stack, deployed):
    capture(stack, deployed, rows(np.random.default_rng(1), 400))

    report, output = check(stack)

    assert report["status"] == "ok" and output["retrain"]["start"] is False and output["notify"] is False
    assert report["window"]["rows"] == 400 and report["prediction"]["drifted"] is False
    key = S3Uri.parse(output["report_uri"]).key
    assert key.startswith(f"monitoring/{MODEL}/") and key.endswith("/report.json")
    assert objects.get_json(S3Uri.parse(output["report_uri"]))["features"].keys() == set(FEATURES)
    page = objects.get_bytes(S3Uri.parse(output["html_uri"])).decode()
    assert page.startswith("<!doctype html>") and "NO DRIFT" in page


def test_drift_is_confirmed_after_consecutive_windows_and_starts_one_retraining(stack, deployed):
    rng = np.random.default_rng(2)
    # Given a first drifted window
    capture(stack, deployed, rows(rng, 300, shifted=True))
    first, first_output = check(stack)
    assert first["dataset_drift"] is True and first["monitoring"]["drift_confirmed"] is False
    assert first_output["retrain"]["start"] is False and "1 of 2" in first_output["decision"]

    # When a second drifted window follows
    capture(stack, deployed, rows(rng, 300, shifted=True))
    second, output = check(stack)

    # Then drift is confirmed and a retraining run is requested with the version's training request
    assert second["window"]["rows"] == 300  # only the capture since the last check
    assert second["monitoring"]["consecutive_drifted_windows"] == 2 and second["monitoring"]["drift_confirmed"]
    retrain = output["retrain"]
    assert retrain["start"] is True and retrain["execution_name"] == retraining_execution_name(
        MODEL, output["check_id"]
    )
    request = retrain["request"]
    assert request["dataset_uri"] == TRAINING_REQUEST["dataset_uri"] and "code_version" not in request
    assert request["requested_by"] == f"drift-check:{output['check_id']}"
    assert output["notify"] is True and "retraining started" in output["notification"]["subject"]
    state = MonitoringStore(stack.monitor_table).get(MODEL).state
    assert state.last_retraining.check_id == output["check_id"]
    events = [e.event_type for e in stack.registry().list_events(MODEL)]
    assert "DriftConfirmed" in events


def test_no_second_retraining_within_the_cooldown_nor_a_repeated_alert(stack, deployed):
    rng = np.random.default_rng(3)
    for _ in range(2):
        capture(stack, deployed, rows(rng, 300, shifted=True))
        _, output = check(stack)
    assert output["retrain"]["start"] is True

    # When drift persists in the next window
    capture(stack, deployed, rows(rng, 300, shifted=True))
    report, output = check(stack)

    # Then the cooldown holds the retraining back, and nothing new is notified
    assert report["monitoring"]["drift_confirmed"] is True
    assert output["retrain"]["start"] is False and "cooldown 24.0 h" in output["retrain"]["reason"]
    assert output["notify"] is False

    # When the cooldown has passed (the last retraining is 25 hours old)
    store = MonitoringStore(stack.monitor_table)
    stored = store.get(MODEL)
    state = replace(stored.state, last_retraining=replace(stored.state.last_retraining, at="2000-01-01T00:00:00Z"))
    store.save_state(MODEL, state, seen_revision=stored.revision)
    capture(stack, deployed, rows(rng, 300, shifted=True))
    _, output = check(stack)

    # Then drift that is still confirmed starts a retraining again
    assert output["retrain"]["start"] is True


def test_insufficient_data_keeps_the_window_open_until_it_has_enough_rows(stack, deployed):
    rng = np.random.default_rng(4)
    capture(stack, deployed, rows(rng, 60, shifted=True))
    first, output = check(stack)
    assert first["status"] == "insufficient_data" and first["dataset_drift"] is False
    assert "keeps accumulating" in output["decision"]

    capture(stack, deployed, rows(rng, 60, shifted=True))
    second, _ = check(stack)

    assert second["window"]["rows"] == 120 and second["status"] == "drift"
    assert second["monitoring"]["consecutive_drifted_windows"] == 1


def test_capture_of_other_versions_is_left_out(stack, deployed):
    capture(stack, deployed + 7, rows(np.random.default_rng(5), 500, shifted=True))
    capture(stack, deployed, rows(np.random.default_rng(6), 200))

    report, _ = check(stack)

    assert report["window"]["rows"] == 200 and report["window"]["rows_other_versions"] == 500
    assert report["status"] == "ok"


def test_a_new_production_version_restarts_the_counters(stack, deployed):
    rng = np.random.default_rng(7)
    capture(stack, deployed, rows(rng, 300, shifted=True))
    check(stack)
    new_version = register(stack, version_note="second")
    capture(stack, new_version, rows(rng, 300, shifted=True))

    report, _ = check(stack)

    assert report["version"] == new_version
    assert report["monitoring"]["consecutive_drifted_windows"] == 1
    assert "production moved from" in report["monitoring"]["notes"][0]


def test_ground_truth_degradation_is_reported_and_triggers_retraining(stack, deployed):
    rng = np.random.default_rng(8)
    ids = capture(stack, deployed, rows(rng, 300), predictions=["1"] * 300)
    actual = ["0"] * 200 + ["1"] * 100  # accuracy 1/3 against a holdout of 0.9
    accept_feedback(
        stack.registry(),
        stack.bucket,
        MODEL,
        [{"inference_id": i, "label": a} for i, a in zip(ids, actual, strict=True)],
        actor="tests",
    )

    report, output = check(stack)

    performance = report["performance"]
    assert performance["labelled_rows"] == 300 and performance["status"] == "degraded"
    assert performance["live"]["accuracy"] == pytest.approx(1 / 3)
    assert performance["live"]["f1"] == pytest.approx(2 * 100 / (300 + 100))
    assert report["status"] == "ok"  # the inputs did not drift; the labels tell otherwise
    assert output["retrain"]["start"] is True and "performance degraded" in output["retrain"]["reason"]


def test_too_few_labels_are_not_judged(stack, deployed):
    ids = capture(stack, deployed, rows(np.random.default_rng(9), 150), predictions=["1"] * 150)
    accept_feedback(
        stack.registry(), stack.bucket, MODEL, [{"inference_id": i, "label": 0} for i in ids[:20]], actor="tests"
    )

    report, _ = check(stack)

    assert report["performance"]["status"] == "insufficient_labels"
    assert report["performance"]["degraded"] is False


def test_feedback_is_validated_against_the_production_version(stack, deployed):
    registry = stack.registry()
    served = capture(stack, deployed, rows(np.random.default_rng(10), 2), predictions=["1", "0"])
    with pytest.raises(InvalidFeedback, match="not a class"):
        accept_feedback(registry, stack.bucket, MODEL, [{"inference_id": served[0], "label": "maybe"}], actor="tests")
    with pytest.raises(InvalidFeedback, match="not an inference id"):
        accept_feedback(registry, stack.bucket, MODEL, [{"inference_id": "made-up", "label": 1}], actor="tests")
    # an id of the right shape that this model never served (nothing in its capture) is refused, naming it
    with pytest.raises(InvalidFeedback, match=r"1 inference id\(s\) churn has not served .*: a:0$"):
        labels = [{"inference_id": served[1], "label": 0}, {"inference_id": "a:0", "label": 1}]
        accept_feedback(registry, stack.bucket, MODEL, labels, actor="tests")
    assert not any(key.startswith(f"feedback/{MODEL}/") for key in _keys(stack))  # nothing of a refusal stored
    events = registry.list_events(MODEL)
    accepted = accept_feedback(
        registry, stack.bucket, MODEL, [{"inference_id": served[0], "label": 1.0}], actor="arn:aws:iam::1:user/ann"
    )
    assert accepted["accepted"] == 1 and "/feedback/churn/dt=" in accepted["uri"]
    line = json.loads(objects.get_bytes(S3Uri.parse(accepted["uri"])))
    assert line["label"] == "1"  # normalised as the dataset normalises class labels
    assert (line["labelled_by"], line["rule"]) == ("arn:aws:iam::1:user/ann", "latest label of an inference id wins")
    received = registry.list_events(MODEL)[len(events) :]
    assert [(e.event_type, e.actor, e.after["labels"], e.after["uri"]) for e in received] == [
        ("FeedbackReceived", "arn:aws:iam::1:user/ann", 1, accepted["uri"])
    ]


def _keys(stack) -> list[str]:
    return [o["Key"] for o in stack.client("s3").list_objects_v2(Bucket=stack.bucket).get("Contents", [])]


def test_nothing_to_monitor_and_unreadable_baselines_are_named_errors(stack):
    with pytest.raises(NothingToMonitor):
        check(stack)
    register(stack)
    record = stack.registry().get_version(MODEL, 1)
    stack.client("s3").delete_object(Bucket=stack.bucket, Key=S3Uri.parse(record.baseline_uri).key)
    with pytest.raises(BaselineUnavailable):
        check(stack)


def test_a_concurrent_check_loses_the_conditional_write(stack, deployed):
    store = MonitoringStore(stack.monitor_table)
    capture(stack, deployed, rows(np.random.default_rng(10), 200))
    check(stack)
    stored = store.get(MODEL)
    store.save_state(MODEL, stored.state, seen_revision=stored.revision)

    with pytest.raises(VersionConflict):
        store.save_state(MODEL, stored.state, seen_revision=stored.revision)


def test_stored_and_per_check_settings_override_the_stack_defaults(stack, deployed):
    MonitoringStore(stack.monitor_table).set_config(MODEL, {"consecutive_windows": 1, "drift": {"psi_threshold": 0.05}})
    capture(stack, deployed, rows(np.random.default_rng(11), 300, shifted=True))

    report, output = check(stack, drift={"alpha": 0.01})

    config = report["monitoring_config"]
    assert config["consecutive_windows"] == 1 and config["drift"]["psi_threshold"] == 0.05
    assert config["drift"]["alpha"] == 0.01
    assert report["monitoring"]["drift_confirmed"] is True and output["retrain"]["start"] is True


def test_drift_handler_runs_a_check_and_publishes_metrics(stack, deployed, lambda_context, monkeypatch, capsys):
    from functions.drift import app

    for name, value in {
        "DRIFT_CONSECUTIVE_WINDOWS": "1",
        "RETRAIN_COOLDOWN_HOURS": "24",
        "RETRAIN_ON_DRIFT": "true",
        "CAPTURE_SETTLE_S": "0",
    }.items():
        monkeypatch.setenv(name, value)
    capture(stack, deployed, rows(np.random.default_rng(12), 300, shifted=True))
    event = {**load_event("drift", "check"), "check": {"model_name": MODEL}}

    output = app.lambda_handler(event, lambda_context)

    assert output["drift_confirmed"] is True and output["retrain"]["start"] is True
    emitted = capsys.readouterr().out
    assert '"DriftConfirmed"' in emitted and '"FeatureDriftScore"' in emitted and '"DriftWindowRows"' in emitted

    recorded = app.lambda_handler(
        {**load_event("drift", "record_retraining"), "model_name": MODEL, "check_id": output["check_id"]},
        lambda_context,
    )
    assert recorded["execution_arn"].startswith("arn:aws:states:")
    state = MonitoringStore(stack.monitor_table).get(MODEL).state
    assert state.last_retraining.execution_arn == recorded["execution_arn"]


def test_the_local_stack_fills_in_the_step_functions_integration_names(stack):
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
        StateTaskServiceSfn,
    )

    from local.emulated import sfn_integrations

    # moto's interpreter sends the ASL's StartExecution parameter names to botocore, which refuses them
    assert StateTaskServiceSfn._normalise_parameters is sfn_integrations._parameters
    assert sfn_integrations._members("StartExecution")["statemachinearn"] == "stateMachineArn"


# ---- one feeder: the scheduled check, the CLI and a direct window count the same ----------------------------
def csv_text(header: list[str], table: list[list[object]]) -> str:
    cells = [["" if value is None else str(value) for value in row] for row in table]
    return "\n".join(",".join(row) for row in [header, *cells]) + "\n"


def test_the_check_the_cli_and_a_direct_window_give_identical_results(stack, tmp_path):
    # Given a reference file, and a current window with missing values, one mistyped value, an extra column
    # ("surprise") and a missing one ("visits"), as capture records and as a CSV file with the same values
    rng = np.random.default_rng(21)
    training = rows(rng, 2_000)
    reference_csv = tmp_path / "reference.csv"
    header = sorted(FEATURES)  # stored baselines are canonical JSON (sorted keys): the check sees features so
    reference_csv.write_text(csv_text(header, [[row[n] for n in header] for row in training]))
    statistics = baseline_of_columns(read_reference(reference_csv), seed=42)  # what compare_files computes
    version = register(stack, features_baseline=statistics)
    current = []
    for i, row in enumerate(rows(rng, 300, shifted=True)):
        record = {name: row[name] for name in ("tenure", "spend", "plan")} | {"surprise": float(i)}
        if i % 10 == 0:
            record["tenure"] = None
        if i % 25 == 0:
            record["plan"] = None
        record["spend"] = "abc" if i == 7 else record["spend"]
        current.append(record)
    current_header = ["tenure", "spend", "plan", "surprise"]
    current_csv = tmp_path / "current.csv"
    current_csv.write_text(csv_text(current_header, [[r[n] for n in current_header] for r in current]))
    capture(stack, version, current)
    config = DriftConfig()

    # When the scheduled check, the CLI and a window fed directly (by records, and by columns in chunks) compare
    report, _ = check(stack)
    from_cli = compare_files(reference_csv, current_csv, config)
    reference = Reference.from_baseline(statistics)
    by_records = Window(reference)
    WindowFeeder(by_records).add_records(current)
    by_columns = Window(reference)
    add_columns(by_columns, {name: [r[name] for r in current] for name in current_header}, config.chunk_rows)
    in_chunks = Window(reference)
    add_columns(in_chunks, {name: [r[name] for r in current] for name in current_header}, chunk_rows=64)
    direct = evaluate(reference, by_records, config)

    # Then every window holds the same counts, whatever the chunking ...
    for window in (by_records, by_columns, in_chunks):
        assert window.rows == 300 and dict(window.extra_columns) == {"surprise": 300}
        assert window.counts["tenure"].missing == 30 and window.counts["tenure"].mismatched == 0
        assert window.counts["spend"].missing == 1 and window.counts["spend"].mismatched == 1
        assert window.counts["plan"].missing == 12 and window.counts["plan"].absent == 0
        assert window.counts["visits"].absent == 300 and window.counts["visits"].present == 0
        for name in FEATURES:
            expected, counts = by_records.counts[name], window.counts[name]
            assert (counts.present, counts.missing, counts.absent) == (
                expected.present,
                expected.missing,
                expected.absent,
            )
            for array in ("psi_counts", "below_grid", "at_grid", "counts"):
                if hasattr(expected, array):
                    assert getattr(counts, array).tolist() == getattr(expected, array).tolist(), (name, array)
    assert evaluate(reference, by_columns, config) == direct
    # ... and the check and the CLI report exactly what the direct window does, feature by feature
    compared = [key for key in direct if key != "prediction"]
    assert {key: report[key] for key in compared} == {key: direct[key] for key in compared}
    assert {key: from_cli[key] for key in compared} == {key: direct[key] for key in compared}
    violations = {(v["check"], v.get("feature")): v for v in direct["data_quality"]["violations"]}
    assert violations[("type_mismatch", "spend")]["rows"] == 1
    assert ("missing_column", "visits") in violations
    assert violations[("extra_columns", None)]["columns"] == ["surprise"]
    assert direct["features"]["tenure"]["missing"] == 30 and direct["features"]["spend"]["missing"] == 1
