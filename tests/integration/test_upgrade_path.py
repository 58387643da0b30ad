"""Upgrades do not dead-end promotion: a champion trained with another scikit-learn is still compared.

The test plays an upgrade by recording, on the deployed champion, the scikit-learn version of an older release (the
pipeline's scikit-learn then refuses to unpickle it, as it would after a real upgrade of the pins). The challenger
runs through the real state machine: the gate measures the champion on the same holdout through its ONNX copy (the
predict function's onnxruntime), or, for a champion without one, by its registered metrics, and the run deploys.
"""

from __future__ import annotations

import pytest

from local.runs.datasets import breast_cancer_csv
from local.runs.training import run_training
from local.stack import LocalStack
from mlops.storage import layout
from tests.conftest import upload

pytestmark = pytest.mark.integration
OLD_SKLEARN = "1.8.0"


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch):
    # An equal challenger passes (GateMinImprovement 0): the test is about whether the champion can be compared
    with LocalStack(parameters={"GateMinImprovement": "0"}) as local_stack:
        for name, value in local_stack.environment().items():
            monkeypatch.setenv(name, value)
        yield local_stack


def _request(stack: LocalStack) -> dict:
    return {
        "model_name": "bc",
        "dataset_uri": upload(stack, "datasets/bc.csv", breast_cancer_csv()),
        "target": "target",
        "candidates": [{"estimator": "logistic_regression", "params": {"max_iter": 2000}}],
    }


def _as_if_trained_by_an_older_release(stack: LocalStack, version: int, *, without_onnx: bool = False) -> None:
    """What the registry holds for a version an older scikit-learn trained (and, optionally, one with no ONNX)."""
    expression = "SET lineage.libraries.#sklearn = :old"
    if without_onnx:
        expression += ", serving.#runtime = :sklearn REMOVE serving.onnx_uri, serving.onnx_sha256"
    stack.client("dynamodb").update_item(
        TableName=stack.table,
        Key=layout.item_key("bc", layout.version_sk(version)),
        UpdateExpression=expression,
        ExpressionAttributeNames={"#sklearn": "scikit-learn", **({"#runtime": "runtime"} if without_onnx else {})},
        ExpressionAttributeValues={
            ":old": {"S": OLD_SKLEARN},
            **({":sklearn": {"S": "sklearn"}} if without_onnx else {}),
        },
    )


def test_a_champion_from_an_older_scikit_learn_is_measured_through_its_onnx_copy(stack):
    # Given v1 in production, converted to ONNX, and recorded as trained by an older scikit-learn
    first = run_training(stack, _request(stack), timeout_s=300)
    assert first.end_state == "Deployed", first.cause
    registry = stack.registry()
    assert registry.get_version("bc", 1).serving.onnx_uri
    _as_if_trained_by_an_older_release(stack, 1)

    # When a challenger trains with this release's scikit-learn
    second = run_training(stack, _request(stack), timeout_s=300)

    # Then the gate measured the champion on the challenger's holdout through its ONNX copy, and the run deployed
    assert second.end_state == "Deployed", second.cause
    challenger = registry.get_version("bc", 2)
    champion = challenger.champion
    assert (champion["version"], champion["compared_by"], champion["problem"]) == (1, "onnx", None), champion
    assert f"trained with scikit-learn {OLD_SKLEARN}" in champion["note"], champion
    # same data, same seed, same estimator: the ONNX champion scores what the scikit-learn challenger scores
    assert champion["holdout_metrics"]["f1"] == pytest.approx(challenger.metrics["f1"], abs=1e-9)
    assert challenger.gate["champion_score"] == champion["holdout_metrics"]["f1"]
    assert not any("cannot be compared" in reason for reason in challenger.gate["reasons"]), challenger.gate
    assert (challenger.status, registry.get_alias("bc").version) == ("Registered", 2)


def test_a_champion_without_onnx_is_compared_by_its_registered_metrics(stack):
    # Given v1 in production, recorded as trained by an older scikit-learn and without an ONNX copy
    first = run_training(stack, _request(stack), timeout_s=300)
    assert first.end_state == "Deployed", first.cause
    _as_if_trained_by_an_older_release(stack, 1, without_onnx=True)
    registry = stack.registry()
    recorded = registry.get_version("bc", 1).metrics

    # When a challenger trains
    second = run_training(stack, _request(stack), timeout_s=300)

    # Then the gate compared it with the champion's registered metrics, said so, and the run deployed
    assert second.end_state == "Deployed", second.cause
    challenger = registry.get_version("bc", 2)
    champion = challenger.champion
    assert (champion["compared_by"], champion["holdout_metrics"]) == ("recorded", None), champion
    assert challenger.gate["champion_score"] == recorded["f1"]
    assert any("compared by its registered metrics" in reason for reason in challenger.gate["reasons"])
    assert any("it has no ONNX copy" in reason for reason in challenger.gate["reasons"])
    assert registry.get_alias("bc").version == 2
