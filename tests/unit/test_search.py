"""Search spaces: validation that names the field, reproducible sampling, default spaces and the halving rungs."""

from __future__ import annotations

import math

import pytest

from mlops.errors import InvalidTrainingRequest
from mlops.records.request import Halving, SettledSearch, parse_training_request
from mlops.records.steps import RungPlan, TrainedCandidate
from mlops.training import search

BASE = {"model_name": "m", "dataset_uri": "s3://b/datasets/d.csv", "target": "y"}


def _request(search_document: dict) -> dict:
    return {**BASE, "search": search_document}


@pytest.mark.parametrize(
    ("search_document", "field", "words"),
    [
        ({"max_trials": 0}, "search.max_trials", "greater than or equal to 1"),
        ({"max_trials": 5000}, "search.max_trials", "less than or equal to 1000"),
        ({"max_trials": "10"}, "search.max_trials", "must be a whole number"),
        ({"time_budget_s": 5}, "search.time_budget_s", "greater than or equal to 60"),
        ({"tolerated_failure_percentage": 120}, "search.tolerated_failure_percentage", "less than or equal to 100"),
        ({"max_concurrency": 0}, "search.max_concurrency", "greater than or equal to 1"),
        ({"halving": {"factor": 1}}, "search.halving.factor", "greater than or equal to 2"),
        ({"halving": {"min_fraction": 1.5}}, "search.halving.min_fraction", "less than 1"),
        (
            {"spaces": [{"estimator": "ridge", "params": {"alpha": {"type": "float", "low": 2.0, "high": 1.0}}}]},
            "search.spaces.0.params.alpha.float",
            "low (2.0) must be below high (1.0)",
        ),
        (
            {
                "spaces": [
                    {"estimator": "ridge", "params": {"alpha": {"type": "float", "low": 0, "high": 1, "log": True}}}
                ]
            },
            "search.spaces.0.params.alpha.float",
            "log-uniform range needs low > 0",
        ),
        (
            {"spaces": [{"estimator": "knn", "params": {"n": {"type": "int", "low": 0, "high": 9, "log": True}}}]},
            "search.spaces.0.params.n.int",
            "starts at 1 or more",
        ),
        (
            {"spaces": [{"estimator": "x", "params": {"a": {"type": "categorical", "values": []}}}]},
            "search.spaces.0.params.a.categorical.values",
            "at least 1 item",
        ),
        (
            {"spaces": [{"estimator": "x", "params": {"a": {"type": "normal", "mu": 0}}}]},
            "search.spaces.0.params.a",
            "does not match any of the expected tags",
        ),
        (
            {"spaces": [{"estimator": "x", "params": {"a": {"type": "int", "low": 1, "high": 3}}, "fixed": {"a": 2}}]},
            "search.spaces.0",
            "both searched and fixed",
        ),
        ({"spaces": []}, "search.spaces", "at least 1 item"),
        ({"trials": 3}, "search.trials", "Extra inputs are not permitted"),
    ],
)
def test_a_bad_search_is_refused_naming_its_field(search_document, field, words):
    with pytest.raises(InvalidTrainingRequest) as refused:
        parse_training_request(_request(search_document))
    message = str(refused.value)
    assert f"{field}: " in message, message
    assert words in message, message


def test_search_and_candidates_together_are_refused():
    with pytest.raises(InvalidTrainingRequest, match="candidates and search are mutually exclusive"):
        parse_training_request({**_request({"max_trials": 3}), "candidates": [{"estimator": "ridge"}]})


@pytest.mark.parametrize(
    ("space", "words"),
    [
        ({"estimator": "ridge"}, "search.spaces.0: estimator 'ridge' is not allowed for classification"),
        (
            {"estimator": "logistic_regression", "params": {"gamma": {"type": "float", "low": 0.1, "high": 1}}},
            "search.spaces.0: logistic_regression has no parameter(s) gamma",
        ),
        (
            {"estimator": "random_forest", "fixed": {"n_jobs": 4}},
            "search.spaces.0: parameter(s) n_jobs cannot be set",
        ),
    ],
)
def test_a_space_the_allow_list_refuses_names_its_field(space, words):
    spaces = parse_training_request(_request({"spaces": [space]})).search.spaces
    with pytest.raises(InvalidTrainingRequest) as refused:
        search.check_spaces("classification", spaces)
    assert words in str(refused.value)


def _settled(seed: int, max_trials: int = 12, spaces=None) -> SettledSearch:
    spaces = spaces or [space.model_dump() for space in search.default_spaces("classification")]
    return SettledSearch.model_validate(
        {
            "max_trials": max_trials,
            "spaces": spaces,
            "seed": seed,
            "max_concurrency": 4,
            "tolerated_failure_percentage": 0,
        }
    )


def test_the_same_seed_samples_the_same_trials_and_another_seed_others():
    # Given one request's spaces; When sampled twice with its seed and once with another
    first, again, other = search.sample(_settled(7)), search.sample(_settled(7)), search.sample(_settled(8))
    # Then the same seed gives the same trials, value for value; another seed gives different ones
    assert first == again
    assert first != other
    assert len(first) == 12


def test_sampled_values_stay_in_their_space_with_the_declared_types():
    spaces = [
        {
            "estimator": "hist_gradient_boosting",
            "params": {
                "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
                "max_leaf_nodes": {"type": "int", "low": 8, "high": 64, "log": True},
                "max_iter": {"type": "int", "low": 10, "high": 20},
                "loss": {"type": "categorical", "values": ["log_loss"]},
            },
            "fixed": {"early_stopping": False},
        }
    ]
    trials = search.sample(_settled(3, max_trials=200, spaces=spaces))
    rates = [p["learning_rate"] for _, p in trials]
    assert all(0.01 <= r <= 0.3 and isinstance(r, float) for r in rates)
    assert all(8 <= p["max_leaf_nodes"] <= 64 and type(p["max_leaf_nodes"]) is int for _, p in trials)
    assert all(10 <= p["max_iter"] <= 20 and type(p["max_iter"]) is int for _, p in trials)
    assert {p["early_stopping"] for _, p in trials} == {False}
    # log-uniform: about half the draws below the geometric middle (0.055), not the arithmetic one (0.155)
    below = sum(r < math.sqrt(0.01 * 0.3) for r in rates) / len(rates)
    assert 0.35 < below < 0.65


def test_max_trials_alone_searches_the_tasks_default_estimators():
    trials = search.sample(_settled(0, max_trials=60))
    assert {e for e, _ in trials} == set(search.DEFAULT_ESTIMATORS["classification"])
    assert all(p["max_iter"] == 2000 for e, p in trials if e == "logistic_regression")


def test_every_default_space_is_accepted_by_the_allow_list():
    for task in ("classification", "regression"):
        names = [n for n in search.DEFAULT_SPACES if n in search.estimators.ESTIMATORS[task]]
        spaces = [search.EstimatorSpace.model_validate({"estimator": n, **search.DEFAULT_SPACES[n]}) for n in names]
        search.check_spaces(task, spaces)


def test_a_grid_of_choices_is_sampled_without_repeats():
    spaces = [{"estimator": "ridge", "params": {"alpha": {"type": "categorical", "values": [0.1, 1.0, 10.0]}}}]
    trials = search.sample(_settled(0, max_trials=3, spaces=spaces))
    assert sorted(p["alpha"] for _, p in trials) == [0.1, 1.0, 10.0]


def test_halving_rungs_shrink_the_trials_by_the_factor_and_end_on_every_row():
    assert search.rungs(27, Halving(factor=3, min_fraction=1 / 9)) == [
        RungPlan(rung=0, trials=27, fraction=round(1 / 9, 6)),
        RungPlan(rung=1, trials=9, fraction=round(1 / 3, 6)),
        RungPlan(rung=2, trials=3, fraction=1.0),
    ]
    assert [r.trials for r in search.rungs(50, Halving(factor=2, min_fraction=0.1))] == [50, 25, 13, 7, 4]
    assert search.rungs(5, None) == [RungPlan(rung=0, trials=5, fraction=1.0)]


def _result(index: int, f1: float, rung: int = 0) -> TrainedCandidate:
    return TrainedCandidate(
        status="trained",
        trial_id=f"t{index:04d}",
        rung=rung,
        index=index,
        estimator="ridge",
        artifact_uri=f"s3://b/runs/r/candidates/{index:02d}-ridge.joblib",
        artifact_sha256="0" * 64,
        validation_metrics={"f1": f1, "log_loss": 1 - f1},
    )


def test_promotion_keeps_the_best_of_a_rung_by_the_metrics_direction():
    results = [_result(i, f1) for i, f1 in enumerate([0.5, 0.9, 0.7, 0.8, 0.6, 0.95])]
    by_f1 = search.promote(results, "f1", RungPlan(rung=1, trials=2, fraction=0.5))
    assert [(t.trial_id, t.rung, t.fraction) for t in by_f1] == [("t0005", 1, 0.5), ("t0001", 1, 0.5)]
    by_loss = search.promote(results, "log_loss", RungPlan(rung=1, trials=2, fraction=0.5))
    assert [t.trial_id for t in by_loss] == ["t0005", "t0001"]
