"""The floor under every deployment, through the real TrainingPipeline: a first model that is no better than a trivial
baseline is registered Rejected with the baseline's reason and production never moves; a model with signal deploys
with a positive lift over the baseline; a request whose gate.min_score is looser than the stack's GateMinimumScores
is refused."""

from __future__ import annotations

import csv
import io
import logging
import os

import numpy as np
import pytest

from local.runs.training import error_message, run_training
from local.stack import LocalStack
from mlops.governance import cards

pytestmark = pytest.mark.integration
ROWS = 1500
POSITIVE_SHARE = 0.06
STACK_FLOOR = "roc_auc=0.6"
CANDIDATES = [
    {"estimator": "logistic_regression", "params": {"C": 1.0, "max_iter": 2000}},
    {"estimator": "random_forest", "params": {"n_estimators": 40, "min_samples_leaf": 2}},
]


def imbalanced_csv(seed: int, *, signal: float) -> bytes:
    """~6 % 'Yes' rows and five features; ``signal`` 0: the features are pure noise, the target independent of them."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(ROWS, 5))
    if signal == 0:
        positive = rng.random(ROWS) < POSITIVE_SHARE
    else:  # the positives are the rows highest on a noisy score of the first two features
        score = signal * (features[:, 0] + features[:, 1]) + rng.normal(size=ROWS)
        positive = score > np.quantile(score, 1 - POSITIVE_SHARE)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*(f"x{i}" for i in range(5)), "claim"])
    for row, is_positive in zip(features.tolist(), positive.tolist(), strict=True):
        writer.writerow([*(f"{value:.6f}" for value in row), "Yes" if is_positive else "No"])
    return buffer.getvalue().encode()


@pytest.fixture(scope="module")
def stack():
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    saved = dict(os.environ)
    with LocalStack(parameters={"GateMinimumScores": STACK_FLOOR}) as local_stack:
        os.environ.update(local_stack.environment())
        s3 = local_stack.client("s3")
        s3.put_object(Bucket=local_stack.bucket, Key="datasets/noise.csv", Body=imbalanced_csv(1, signal=0))
        s3.put_object(Bucket=local_stack.bucket, Key="datasets/signal.csv", Body=imbalanced_csv(2, signal=3.0))
        yield local_stack
    os.environ.clear()
    os.environ.update(saved)


def train(stack: LocalStack, model_name: str, dataset: str, **gate):
    request = {
        "model_name": model_name,
        "dataset_uri": f"s3://{stack.bucket}/datasets/{dataset}",
        "target": "claim",
        "positive_class": "Yes",
        "candidates": CANDIDATES,
    }
    return run_training(stack, {**request, "gate": gate} if gate else request)


def test_a_first_model_on_noise_is_rejected_as_no_better_than_the_majority_class(stack):
    # Given a 6 %-positive table whose features are noise, and no champion
    registry = stack.registry()

    # When its first model is trained with the defaults (gate metric F1)
    result = train(stack, "noise", "noise.csv")

    # Then it is registered Rejected with the baseline's reason, and there is no production alias
    assert result.end_state == "NotPromoted", error_message(result.cause)
    record = registry.get_version("noise", result.version)
    assert record.status == "Rejected"
    assert registry.get_alias("noise", "production") is None
    floor = record.gate["baseline"]
    assert (floor["strategy"], floor["predicts"], floor["passed"]) == ("prior", "always predicting 'No'", False)
    assert [(c["metric"], c["decides"]) for c in floor["checks"]] == [
        ("f1", False),
        ("balanced_accuracy", True),
        ("roc_auc", True),
    ]  # F1 recorded; balanced accuracy stands in for it (docs/architecture.md, "The gate")
    assert any(reason.startswith("no better than always predicting 'No'") for reason in record.gate["reasons"])
    assert floor["metrics"]["roc_auc"] == 0.5 and floor["metrics"]["balanced_accuracy"] == 0.5
    failing = [check for check in floor["checks"] if check["decides"] and not check["passed"]]
    assert failing and all(check["interval"]["low"] <= floor["margin"] for check in failing)
    # the lift is recorded on the version even when it is rejected
    assert record.lift_over_baseline == {
        check["metric"]: {"difference": check["difference"], "ratio": check["ratio"]} for check in floor["checks"]
    }


def test_a_model_with_signal_deploys_with_a_positive_lift_in_the_record_and_the_card(stack):
    registry = stack.registry()

    result = train(stack, "signal", "signal.csv")

    assert result.end_state == "Deployed", error_message(result.cause)
    record = registry.get_version("signal", result.version)
    assert registry.get_alias("signal", "production").version == record.version
    lift = record.lift_over_baseline
    assert set(lift) == {"f1", "balanced_accuracy", "roc_auc"}
    assert lift["f1"]["difference"] == pytest.approx(record.metrics["f1"] - 0.0)
    assert lift["roc_auc"]["difference"] == pytest.approx(record.metrics["roc_auc"] - 0.5)
    assert lift["roc_auc"]["ratio"] == pytest.approx(record.metrics["roc_auc"] / 0.5)
    assert lift["f1"]["ratio"] is None  # a ratio over an F1 of 0 says nothing
    decisive = [check for check in record.gate["baseline"]["checks"] if check["decides"]]
    assert [c["metric"] for c in decisive] == ["balanced_accuracy", "roc_auc"]
    assert all(check["passed"] and check["interval"]["low"] > 0 for check in decisive)
    assert any(reason.startswith("better than always predicting 'No'") for reason in record.gate["reasons"])

    markdown = cards.render_markdown(cards.build_card(record, registry.list_events("signal")))
    line = next(line for line in markdown.splitlines() if line.startswith("| Lift over baseline |"))
    assert f"roc_auc {lift['roc_auc']['difference']:+.4f}" in line and "always predicting 'No'" in line, line


def test_a_min_score_looser_than_the_stack_floor_is_refused_and_a_stricter_one_kept(stack):
    refused = train(stack, "floor", "signal.csv", metric="roc_auc", min_score=0.55)

    assert (refused.end_state, refused.error) == ("InvalidInput", "InvalidTrainingRequest"), refused.cause
    message = error_message(refused.cause)
    assert "gate.min_score 0.55 for roc_auc is below the stack's floor roc_auc=0.6 (GateMinimumScores)" in message

    # Without a min_score of its own the run takes the stack's floor; a stricter one is kept
    defaulted = train(stack, "floor", "signal.csv", metric="roc_auc")
    assert defaulted.summary()["gate"]["min_score"] == 0.6, defaulted.cause
    stricter = train(stack, "floor", "signal.csv", metric="roc_auc", min_score=0.7)
    assert stricter.summary()["gate"]["min_score"] == 0.7, stricter.cause
