"""Named aliases and version tags through the admin API and the predict route, on versions the real TrainingPipeline
trained: every change is stored and audited (compared by content), refusals change nothing, and the predict route
serves the alias it is asked for."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

from local.gateway import LOCAL_CALLER_ARN
from local.runs.datasets import breast_cancer_csv
from local.runs.training import run_training
from local.stack import LocalStack
from mlops.data.dataset import Schema
from mlops.registry import documents
from mlops.serving.validation import validate_instances
from mlops.storage import objects
from mlops.storage.objects import S3Uri
from tests.api_story import Api
from tests.stack_state import stack_state

pytestmark = pytest.mark.integration
MODEL = "bc"
STUMP = [{"estimator": "decision_tree", "params": {"max_depth": 1}}]
LOGISTIC = [{"estimator": "logistic_regression", "params": {"max_iter": 2000}}]


@pytest.fixture(scope="module")
def api():
    """v1 (a stump, deployed then replaced), v2 (logistic regression, production), v3 (rejected by its gate)."""
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    saved = dict(os.environ)
    with LocalStack(parameters={"AliasRefreshSeconds": "0"}) as stack:
        os.environ.update(stack.environment())
        stack.client("s3").put_object(Bucket=stack.bucket, Key="datasets/bc.csv", Body=breast_cancer_csv())
        request = {"model_name": MODEL, "dataset_uri": f"s3://{stack.bucket}/datasets/bc.csv", "target": "target"}
        ends = [
            run_training(stack, {**request, "candidates": STUMP}).end_state,
            run_training(stack, {**request, "candidates": LOGISTIC}).end_state,
            run_training(stack, {**request, "candidates": LOGISTIC, "gate": {"min_improvement": 0.5}}).end_state,
        ]
        assert ends == ["Deployed", "Deployed", "NotPromoted"]
        client = Api(stack)
        yield client
        client.close()
    os.environ.clear()
    os.environ.update(saved)


def last_event(api: Api) -> tuple:
    event = api.stack.registry().list_events(MODEL)[-1]
    return event.event_type, event.actor, event.reason, event.before, event.after


def expected_probabilities(api: Api, version: int, rows: list[dict]) -> np.ndarray:
    """What the version's own scikit-learn artifact gives for the rows (its ONNX copy serves them)."""
    record = api.stack.registry().get_version(MODEL, version)
    model = objects.load_model(S3Uri.parse(record.artifact_uri), record.artifact_sha256, record.sklearn_version)
    columns = validate_instances(rows, Schema.from_dict(documents.schema_of(record)))
    return model.predict_proba(np.hstack(columns).astype(object))


def predict(api: Api, rows: list[dict], query: str = "") -> tuple[int, dict]:
    return api.call("POST", f"/models/{MODEL}/predict{query}", {"instances": rows}, api_key=True)


def test_a_named_alias_is_set_served_and_removed_with_its_audit_events(api):
    registry = api.stack.registry()
    rows = [documents.input_example_of(registry.get_version(MODEL, v)) for v in (1, 2)]

    # When staging is pointed at v1 through the API
    status, answer = api.call("PUT", f"/models/{MODEL}/aliases/staging", {"version": 1, "reason": "review the stump"})

    # Then it was smoke-tested, the stored alias is the answer's, and the move is audited with the caller as actor
    assert status == 200 and answer["smoke_test"]["passed"] is True, answer
    assert answer["alias"] == registry.get_alias(MODEL, "staging").to_document()
    assert (answer["alias"]["version"], answer["alias"]["previous_version"]) == (1, None)
    assert last_event(api) == (
        "AliasMoved", LOCAL_CALLER_ARN, "review the stump",
        {"alias": "staging", "version": None, "canary_version": None, "canary_weight": None},
        {"alias": "staging", "version": 1, "canary_version": None, "canary_weight": 0.0},
    )  # fmt: skip
    assert registry.get_alias(MODEL, "production").version == 2  # production untouched

    # When the predict route is asked for staging; Then v1 serves every row, with v1's own outputs
    status, served = predict(api, rows, "?alias=staging")
    assert status == 200, served
    assert (served["alias"], served["version"], [r["version"] for r in served["predictions"]]) == ("staging", 1, [1, 1])
    got = np.array([[r["probabilities"][c] for c in ("0", "1")] for r in served["predictions"]])
    np.testing.assert_allclose(got, expected_probabilities(api, 1, rows), atol=1e-5)
    # And without an alias the route still serves production (v2), with v2's outputs
    status, default = predict(api, rows)
    assert (status, default["alias"], default["version"]) == (200, "production", 2), default
    got = np.array([[r["probabilities"][c] for c in ("0", "1")] for r in default["predictions"]])
    np.testing.assert_allclose(got, expected_probabilities(api, 2, rows), atol=1e-5)
    assert not np.allclose(expected_probabilities(api, 1, rows), expected_probabilities(api, 2, rows), atol=1e-3)

    # When staging is removed; Then the alias is gone, audited, and the predict route answers 404 for it
    status, removed = api.call("DELETE", f"/models/{MODEL}/aliases/staging", {"reason": "review done"})
    assert (status, removed) == (200, {"model_name": MODEL, "alias": "staging", "removed_version": 1})
    assert registry.get_alias(MODEL, "staging") is None
    assert last_event(api) == (
        "AliasRemoved", LOCAL_CALLER_ARN, "review done",
        {"alias": "staging", "version": 1}, {"alias": "staging", "version": None},
    )  # fmt: skip
    status, missing = predict(api, rows, "?alias=staging")
    assert status == 404 and "no staging version" in missing["message"], missing


@pytest.mark.parametrize("query", ["?alias=Staging", "?alias=", "?alias=a_b", "?alias=" + "a" * 33, "?alias=%2F"])
def test_the_predict_route_refuses_a_bad_alias_name_with_a_4xx(api, query):
    row = documents.input_example_of(api.stack.registry().get_version(MODEL, 2))
    status, answer = predict(api, [row], query)
    assert status == 400 and "alias must match" in answer["message"], answer


def test_an_unknown_alias_is_404_on_the_predict_route(api):
    row = documents.input_example_of(api.stack.registry().get_version(MODEL, 2))
    status, answer = predict(api, [row], "?alias=nowhere")
    assert status == 404 and answer == {"message": "model 'bc' has no nowhere version"}


def test_alias_refusals_change_nothing(api):
    before = stack_state(api.stack)
    refusals = [
        (api.call("PUT", f"/models/{MODEL}/aliases/staging", {"version": 3}), 409),  # v3 was rejected by its gate
        (api.call("PUT", f"/models/{MODEL}/aliases/staging", {"version": 9}), 404),
        (api.call("PUT", "/models/nobody/aliases/staging", {"version": 1}), 404),
        (api.call("PUT", f"/models/{MODEL}/aliases/Staging", {"version": 1}), 422),
        (api.call("PUT", f"/models/{MODEL}/aliases/staging", {"version": "1"}), 422),
        (api.call("PUT", f"/models/{MODEL}/aliases/staging", {"version": 1, "weight": 1}), 422),
        (api.call("DELETE", f"/models/{MODEL}/aliases/production"), 409),  # production is rolled back, not deleted
        (api.call("DELETE", f"/models/{MODEL}/aliases/nowhere"), 404),
    ]
    assert [(answer[0], expected) for answer, expected in refusals] == [(e, e) for _, e in refusals], refusals
    assert stack_state(api.stack).changes_since(before) == {}


def test_production_through_the_alias_route_is_a_deployment_with_its_rollback_target(api):
    registry = api.stack.registry()
    status, answer = api.call("PUT", f"/models/{MODEL}/aliases/production", {"version": 1, "reason": "hotfix"})
    assert status == 200 and (answer["alias"]["version"], answer["alias"]["previous_version"]) == (1, 2), answer
    status, back = api.call("POST", f"/models/{MODEL}/rollback", {"reason": "undo hotfix"})
    assert status == 200 and (back["version"], back["previous_version"]) == (2, 1), back
    assert registry.get_alias(MODEL, "production").to_document() == back


def test_version_tags_are_set_and_deleted_with_their_audit_events(api):
    registry = api.stack.registry()
    status, answer = api.call("PUT", f"/models/{MODEL}/versions/1/tags/stage", {"value": "gold", "reason": "review"})
    assert (status, answer) == (200, {"model_name": MODEL, "version": 1, "tags": {"stage": "gold"}})
    assert registry.get_version(MODEL, 1).tags == {"stage": "gold"}
    assert last_event(api) == (
        "VersionTagSet", LOCAL_CALLER_ARN, "review",
        {"version": 1, "tag": "stage", "value": None}, {"version": 1, "tag": "stage", "value": "gold"},
    )  # fmt: skip
    status, record = api.call("GET", f"/models/{MODEL}/versions/1")
    assert status == 200 and record["tags"] == {"stage": "gold"}, record

    status, answer = api.call("DELETE", f"/models/{MODEL}/versions/1/tags/stage")
    assert (status, answer["tags"]) == (200, {})
    assert registry.get_version(MODEL, 1).tags == {}
    assert last_event(api) == (
        "VersionTagDeleted", LOCAL_CALLER_ARN, "tag deleted through the admin API",
        {"version": 1, "tag": "stage", "value": "gold"}, {"version": 1, "tag": "stage", "value": None},
    )  # fmt: skip

    before = stack_state(api.stack)
    refused = [
        api.call("DELETE", f"/models/{MODEL}/versions/1/tags/stage")[0],  # no longer there
        api.call("PUT", f"/models/{MODEL}/versions/9/tags/stage", {"value": "x"})[0],
        api.call("PUT", f"/models/{MODEL}/versions/1/tags/bad%20key", {"value": "x"})[0],
        api.call("PUT", f"/models/{MODEL}/versions/1/tags/stage", {"value": "x" * 501})[0],
        api.call("PUT", f"/models/{MODEL}/versions/1/tags/stage", {"value": 1})[0],
        api.call("PUT", f"/models/{MODEL}/versions/1/tags/stage", {})[0],
    ]
    assert refused == [404, 404, 422, 422, 422, 422]
    assert stack_state(api.stack).changes_since(before) == {}


def test_versions_are_listed_filtered_by_tag_status_and_alias(api):
    registry = api.stack.registry()
    for version, value in ((1, "bronze"), (2, "gold"), (3, "gold")):
        assert api.call("PUT", f"/models/{MODEL}/versions/{version}/tags/tier", {"value": value})[0] == 200
    assert api.call("PUT", f"/models/{MODEL}/versions/3/tags/reviewed", {"value": ""})[0] == 200
    assert api.call("PUT", f"/models/{MODEL}/aliases/staging", {"version": 1})[0] == 200

    def listed(query: str = "") -> list[tuple]:
        status, versions = api.call("GET", f"/models/{MODEL}/versions{query}")
        assert status == 200, versions
        return [(v["version"], v["status"], v["tags"], v["aliases"]) for v in versions]

    everything = listed()
    assert everything == [
        (1, "Registered", {"tier": "bronze"}, ["staging"]),
        (2, "Registered", {"tier": "gold"}, ["production"]),
        (3, "Rejected", {"tier": "gold", "reviewed": ""}, []),
    ]
    assert [(v.version, v.status, v.tags) for v in registry.list_versions(MODEL)] == [e[:3] for e in everything]
    assert [v[0] for v in listed("?tag=tier=gold")] == [2, 3]
    assert [v[0] for v in listed("?tag=tier=gold&tag=reviewed")] == [3]
    assert [v[0] for v in listed("?tag=reviewed=")] == [3]
    assert [v[0] for v in listed("?tag=tier")] == [1, 2, 3]
    assert [v[0] for v in listed("?status=Registered&tag=tier=gold")] == [2]
    assert [v[0] for v in listed("?status=Rejected")] == [3]
    assert [v[0] for v in listed("?alias=staging")] == [1]
    assert [v[0] for v in listed("?alias=production&status=Registered")] == [2]
    assert listed("?alias=nowhere") == []
    for bad in ("?status=Deployed", "?alias=Bad_Alias", "?tag=bad%20key", "?tag=="):
        assert api.call("GET", f"/models/{MODEL}/versions{bad}")[0] == 422, bad
    assert api.call("DELETE", f"/models/{MODEL}/aliases/staging")[0] == 200
