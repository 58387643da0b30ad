"""The guided search against random sampling at equal trials: the best validation score each finds in 20 trials.

On each table and seed, both strategies search the task's default spaces (``mlops.training.search``) with the same
seed: random samples its 20 trials up front as PlanTrials does; guided plans them in 4 waves of 5, the first the
same 5 random draws, each later wave proposed by ``mlops.training.guided`` from the scores of the waves before it,
exactly as PlanTrials proposes between Distributed Map passes. Every trial fits the allow-listed estimator on the
same 75 % of the table and is scored on the other 25 % with the gate's default metric (binary F1, R²), as Train
scores a trial's validation split. ``guided_over_random_best_ratio`` is guided's best validation score over
random's (> 1: guided found the better trial), per table (mean over seeds) and its mean and minimum over every
table and seed; ``guided_regret_share`` is guided's shortfall from the best score either found, over random's.

    python -m bench.search [--seeds 3] [--trials 20] [--waves 4]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import datasets
from sklearn.metrics import f1_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import local  # noqa: F401  (puts the core layer on sys.path, as Lambda does)
from mlops.records.request import SettledSearch
from mlops.training import estimators, guided
from mlops.training import search as trial_search


@dataclass(frozen=True)
class Table:
    name: str
    task: str
    load: Callable[[], tuple[np.ndarray, np.ndarray]]


def _classification() -> tuple[np.ndarray, np.ndarray]:
    return datasets.make_classification(
        n_samples=2000, n_features=20, n_informative=6, flip_y=0.05, class_sep=0.8, weights=[0.7], random_state=3
    )


TABLES = (
    Table("breast-cancer", "classification", lambda: datasets.load_breast_cancer(return_X_y=True)),
    Table("generated-binary", "classification", _classification),
    Table("diabetes", "regression", lambda: datasets.load_diabetes(return_X_y=True)),
    Table("friedman1", "regression", lambda: datasets.make_friedman1(n_samples=1500, noise=1.0, random_state=3)),
)


class Trials:
    """Fits and scores trials on one split, each (estimator, params) once (guided's first wave is random's)."""

    def __init__(self, table: Table, seed: int) -> None:
        x, y = table.load()
        self.task = table.task
        self.split = train_test_split(x, y, test_size=0.25, random_state=seed)
        self.seed, self.fits, self.fit_s, self._scores = seed, 0, 0.0, {}

    def score(self, estimator: str, params: dict[str, Any]) -> float:
        key = json.dumps([estimator, params], sort_keys=True)
        if key not in self._scores:
            x_train, x_valid, y_train, y_valid = self.split
            started = time.perf_counter()
            model = estimators.ESTIMATORS[self.task][estimator](**params)
            if "random_state" in model.get_params():
                model.set_params(random_state=self.seed)
            with threadpool_limits(limits=estimators.FIT_THREADS):  # one thread per fit, as Train fits
                fitted = make_pipeline(StandardScaler(), model).fit(x_train, y_train)
            predicted = fitted.predict(x_valid)
            self.fit_s += time.perf_counter() - started
            self.fits += 1
            metric = f1_score if self.task == "classification" else r2_score
            self._scores[key] = float(metric(y_valid, predicted))
        return self._scores[key]


def _search(task: str, seed: int, trials: int, waves: int) -> SettledSearch:
    spaces = [space.model_dump() for space in trial_search.default_spaces(task)]
    return SettledSearch.model_validate(
        {
            "max_trials": trials,
            "seed": seed,
            "spaces": spaces,
            "strategy": "guided",
            "waves": waves,
            "max_concurrency": 10,
            "tolerated_failure_percentage": 0,
        }
    )


def random_best(trials: Trials, search: SettledSearch) -> float:
    return max(trials.score(e, p) for e, p in trial_search.sample(search))


def guided_best(trials: Trials, search: SettledSearch) -> tuple[float, float]:
    """The best score and the seconds the proposer took (the PlanTrials work between waves)."""
    sizes = guided.wave_sizes(search.max_trials, search.waves)
    first = trial_search.sample(search.model_copy(update={"max_trials": sizes[0]}))
    observed = [(e, p, trials.score(e, p)) for e, p in first]
    propose_s = 0.0
    for wave, count in enumerate(sizes[1:], start=1):
        started = time.perf_counter()
        proposed = guided.propose(search, observed, count, wave)
        propose_s += time.perf_counter() - started
        observed += [(e, p, trials.score(e, p)) for e, p in proposed]
    return max(s for *_, s in observed), propose_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--waves", type=int, default=4)
    args = parser.parse_args()
    per_table, ratios, regrets, propose_s = {}, [], [], []
    for table in TABLES:
        table_ratios = []
        for seed in range(args.seeds):
            trials = Trials(table, seed)
            search = _search(table.task, seed, args.trials, args.waves)
            random_score = random_best(trials, search)
            guided_score, seconds = guided_best(trials, search)
            propose_s.append(seconds)
            table_ratios.append(guided_score / random_score)
            best = max(guided_score, random_score)
            regrets.append((best - guided_score, best - random_score))
            print(
                f"{table.name} seed {seed}: best validation score guided {guided_score:.4f}, random "
                f"{random_score:.4f} ({trials.fits} fits, {trials.fit_s:.1f} s; proposer {seconds:.1f} s)",
                flush=True,
            )
        per_table[table.name] = round(float(np.mean(table_ratios)), 4)
        ratios += table_ratios
    guided_regret, random_regret = (sum(r[i] for r in regrets) for i in (0, 1))
    print(
        json.dumps(
            {
                "benchmark": "search",
                "trials": args.trials,
                "waves": args.waves,
                "seeds": args.seeds,
                "guided_over_random_best_ratio": round(float(np.mean(ratios)), 4),
                "guided_over_random_best_ratio_min": round(float(np.min(ratios)), 4),
                "guided_over_random_best_ratio_by_table": per_table,
                "guided_wins": sum(r > 1 for r in ratios),
                "guided_ties": sum(r == 1 for r in ratios),
                "runs": len(ratios),
                "guided_regret_share": round(guided_regret / random_regret, 4) if random_regret else None,
                "guided_proposer_s_mean": round(float(np.mean(propose_s)), 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
