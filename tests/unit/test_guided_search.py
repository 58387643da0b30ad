"""The guided search's proposer (mlops.training.guided): waves that find a planted optimum better than random
sampling at equal trials, the same waves for the same seed, and the request options around it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlops.errors import InvalidTrainingRequest
from mlops.records.request import SettledSearch, parse_training_request
from mlops.training import guided
from mlops.training import search as trial_search

OPTIMUM = {"a": 0.73, "b": 0.02}  # b's range is log-scaled: its optimum sits near the low end


def _search(seed: int, max_trials: int = 20) -> SettledSearch:
    return SettledSearch.model_validate(
        {
            "max_trials": max_trials,
            "strategy": "guided",
            "seed": seed,
            "max_concurrency": 5,
            "tolerated_failure_percentage": 0,
            "spaces": [
                {
                    "estimator": "hist_gradient_boosting",
                    "params": {
                        "a": {"type": "float", "low": 0.0, "high": 1.0},
                        "b": {"type": "float", "low": 1e-3, "high": 1.0, "log": True},
                        "c": {"type": "categorical", "values": ["good", "bad"]},
                    },
                },
                {"estimator": "ridge", "params": {"a": {"type": "float", "low": 0.0, "high": 1.0}}},
            ],
        }
    )


def _score(estimator: str, params: dict) -> float:
    """A known function: best (0) at the planted optimum of the first space with c="good"; the second space is flat
    and poor, so a search must also learn which space to stay in."""
    if estimator == "ridge":
        return -1.0
    distance = (params["a"] - OPTIMUM["a"]) ** 2 + (math.log10(params["b"]) - math.log10(OPTIMUM["b"])) ** 2 / 9
    return -distance - (0.3 if params["c"] == "bad" else 0.0)


def _guided(search: SettledSearch) -> list[tuple[str, dict, float]]:
    waves = guided.wave_sizes(search.max_trials, search.waves)
    trials = trial_search.sample(search.model_copy(update={"max_trials": waves[0]}))
    observed = [(e, p, _score(e, p)) for e, p in trials]
    for wave, count in enumerate(waves[1:], start=1):
        proposed = guided.propose(search, observed, count, wave)
        assert len(proposed) == count
        observed += [(e, p, _score(e, p)) for e, p in proposed]
    return observed


def test_waves_split_the_trials_and_never_outnumber_them():
    assert guided.wave_sizes(20, 4) == [5, 5, 5, 5]
    assert guided.wave_sizes(22, 4) == [6, 6, 5, 5]
    assert guided.wave_sizes(3, 4) == [1, 1, 1]


def test_guided_concentrates_on_a_planted_optimum_better_than_random_at_equal_trials():
    seeds = range(5)
    guided_best, random_best, guided_last, random_last = [], [], [], []
    for seed in seeds:
        observed = _guided(_search(seed))
        sampled = [(e, p, _score(e, p)) for e, p in trial_search.sample(_search(seed).model_copy())]
        assert len(observed) == len(sampled) == 20
        guided_best.append(max(s for *_, s in observed))
        random_best.append(max(s for *_, s in sampled))
        guided_last.append(np.mean([s for *_, s in observed[-5:]]))  # the last wave, against random's last five
        random_last.append(np.mean([s for *_, s in sampled[-5:]]))
        # every proposed trial is inside its space: in range, with the space's own parameters only
        for estimator, params, _ in observed:
            assert 0.0 <= params["a"] <= 1.0
            if estimator == "hist_gradient_boosting":
                assert 1e-3 <= params["b"] <= 1.0 and params["c"] in ("good", "bad")
            else:
                assert set(params) == {"a"}
    assert np.mean(guided_best) > np.mean(random_best)
    assert sum(g >= r for g, r in zip(guided_best, random_best, strict=True)) >= 4
    assert np.mean(guided_last) > np.mean(random_last) + 0.2  # the last wave sits near the optimum, random's does not


def test_the_same_seed_and_scores_propose_the_same_wave_and_another_seed_does_not():
    first = _guided(_search(7, max_trials=8))
    assert _guided(_search(7, max_trials=8)) == first
    assert _guided(_search(8, max_trials=8)) != first


def test_too_few_scores_to_learn_from_propose_random_draws_inside_the_spaces():
    proposed = guided.propose(_search(1), [], 5, 1)
    assert len(proposed) == 5 and all(e in ("hist_gradient_boosting", "ridge") for e, _ in proposed)


def test_a_small_grid_is_never_proposed_a_trial_it_already_ran():
    grid = SettledSearch.model_validate(
        {
            "max_trials": 6,
            "strategy": "guided",
            "seed": 2,
            "max_concurrency": 5,
            "tolerated_failure_percentage": 0,
            "spaces": [
                {
                    "estimator": "logistic_regression",
                    "params": {"C": {"type": "categorical", "values": [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]}},
                    "fixed": {"max_iter": 500},
                }
            ],
        }
    )
    ran = [("logistic_regression", {"C": c, "max_iter": 500}, -abs(math.log10(c))) for c in (0.01, 0.1, 1.0, 10.0)]
    proposed = guided.propose(grid, ran, 4, 1)
    assert sorted(p["C"] for _, p in proposed) == [100.0, 1000.0]
    assert all(p["max_iter"] == 500 for _, p in proposed)


def _request(search: dict) -> dict:
    return {"dataset_uri": "s3://b/d.csv", "target": "y", "model_name": "m", "search": search}


def test_the_strategy_is_random_unless_asked_and_an_unknown_one_is_refused():
    assert parse_training_request(_request({})).search.strategy == "random"
    assert parse_training_request(_request({"strategy": "guided", "waves": 5})).search.waves == 5
    with pytest.raises(InvalidTrainingRequest, match="strategy"):
        parse_training_request(_request({"strategy": "bayes"}))
    with pytest.raises(InvalidTrainingRequest, match="waves"):
        parse_training_request(_request({"strategy": "guided", "waves": 1}))
