"""The PlanTrials step: each rung's trial list in S3 (the Distributed Map's ItemReader object), and the trials'
records read back from the Map's ResultWriter files.

The first rung is the search's sampled trials (or the hand-listed candidates); with successive halving, each later
rung is the best of the rung that just ran, refitted on more rows (``mlops.training.search`` samples and promotes).
A guided search's rungs are its waves, every one on all the rows: each later wave is proposed from the scores of
every wave before it (``mlops.training.guided``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from mlops.errors import InvalidStepInput, NoCandidateTrained
from mlops.records.lineage import run_id_of
from mlops.records.request import NormalisedRequest
from mlops.records.steps import (
    FailedCandidate,
    ResultManifest,
    RungPlan,
    TrainedCandidate,
    Trial,
    TrialPlan,
    TrialRun,
)
from mlops.settings import Settings
from mlops.storage import layout, objects
from mlops.storage.objects import S3Uri
from mlops.training import guided
from mlops.training import search as trial_search
from mlops.training.scoring import LOWER_IS_BETTER

# Hand-listed candidates keep their old behaviour in the Distributed Map: a few at a time, a failure recorded and
# never fatal (Evaluate ends the run in NoCandidateTrained if none trained).
CANDIDATE_MAX_CONCURRENCY = 4
CANDIDATE_TOLERATED_FAILURE_PERCENTAGE = 100.0


def plan_trials(
    request: NormalisedRequest,
    execution_arn: str,
    settings: Settings,
    previous: TrialRun | None = None,
    *,
    now_epoch_s: float | None = None,
) -> TrialPlan:
    """Write the next rung's trial list to S3 and return where it is (the Distributed Map reads it there).

    First call (``previous`` None): the sampled trials (or the hand-listed candidates) and the rung structure.
    Later calls, with successive halving: the best of the rung that just ran go on to more rows."""
    bucket, run_id = settings.artifacts_bucket, run_id_of(execution_arn)
    if previous is None:
        plan, trials = _first_rung(request, bucket, time.time() if now_epoch_s is None else now_epoch_s)
    else:
        plan, trials = _next_rung(request, previous)
    trial_list = layout.run_trial_list(bucket, run_id, plan.rung)
    objects.put_json(trial_list, [_trial_item(trial) for trial in trials])
    results_prefix = layout.run_trial_results_prefix(bucket, run_id, plan.rung)
    return plan.model_copy(update={"trials_key": trial_list.key, "results_prefix": results_prefix.key})


def _first_rung(request: NormalisedRequest, bucket: str, now: float) -> tuple[TrialPlan, list[Trial]]:
    """The rung structure and the first rung's trials: the search's samples, or the hand-listed candidates."""
    search = request.search
    if search is not None and search.strategy == "guided":
        waves = guided.wave_sizes(search.max_trials, search.waves)
        sampled = trial_search.sample(search.model_copy(update={"max_trials": waves[0]}))
        rungs = [RungPlan(rung=i, trials=n, fraction=1.0) for i, n in enumerate([len(sampled), *waves[1:]])]
    elif search is not None:
        sampled = trial_search.sample(search)
        rungs = trial_search.rungs(len(sampled), search.halving)
    if search is not None:
        concurrency, tolerated = search.max_concurrency, search.tolerated_failure_percentage
        deadline = now + search.time_budget_s if search.time_budget_s is not None else None
    else:
        sampled = [(c.estimator, c.params) for c in request.candidates or []]
        rungs = trial_search.rungs(len(sampled), None)
        concurrency, tolerated, deadline = CANDIDATE_MAX_CONCURRENCY, CANDIDATE_TOLERATED_FAILURE_PERCENTAGE, None
    trials = trial_search.first_rung(sampled, rungs)
    plan = TrialPlan(
        trials_bucket=bucket,
        trials_key="",
        results_bucket=bucket,
        results_prefix="",
        rung=0,
        rungs=rungs,
        sampled=len(trials),
        count=len(trials),
        final=len(rungs) == 1,
        max_concurrency=concurrency,
        tolerated_failure_percentage=tolerated,
        deadline_epoch_s=deadline,
    )
    return plan, trials


def _next_rung(request: NormalisedRequest, previous: TrialRun) -> tuple[TrialPlan, list[Trial]]:
    """The best of the rung that just ran, promoted to the next (NoCandidateTrained if none of it trained)."""
    done = previous.plan
    manifests = previous.all_manifests()
    rung = done.rungs[done.rung + 1]
    if request.search is not None and request.search.strategy == "guided":
        trials = _next_wave(
            request, read_trial_results(manifests), rung, sum(r.trials for r in done.rungs[: rung.rung])
        )
    else:
        results = [r for r in read_trial_results(manifests[-1:]) if r.rung == done.rung]
        trials = trial_search.promote(results, request.gate.metric, rung)
    if not trials:
        raise NoCandidateTrained(f"no trial of rung {done.rung} trained, so none can go on to rung {rung.rung}")
    plan = done.model_copy(
        update={
            "rung": rung.rung,
            "count": len(trials),
            "final": rung.rung == len(done.rungs) - 1,
            "manifests": manifests,
        }
    )
    return plan, trials


def _next_wave(
    request: NormalisedRequest, results: list[TrainedCandidate | FailedCandidate], wave: RungPlan, first_index: int
) -> list[Trial]:
    """A guided search's next wave, proposed from the validation scores of every trial so far (failed ones and
    ones without the gate's metric teach nothing); its indices follow the waves before it."""
    search, metric = request.search, request.gate.metric
    assert search is not None
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    observed = [
        (r.estimator, r.params, sign * r.validation_metrics[metric])
        for r in results
        if isinstance(r, TrainedCandidate) and metric in r.validation_metrics
    ]
    proposed = guided.propose(search, observed, wave.trials, wave.rung) if observed else []
    return [
        Trial(trial_id=f"t{i:04d}", index=i, rung=wave.rung, fraction=1.0, estimator=e, params=p)
        for i, (e, p) in enumerate(proposed, start=first_index)
    ]


def _trial_item(trial: Trial) -> dict[str, Any]:
    """One ItemReader item: what the Map's ItemSelector passes to Train (beside the dataset and seed)."""
    return {
        "trial_id": trial.trial_id,
        "index": trial.index,
        "rung": trial.rung,
        "fraction": trial.fraction,
        "candidate": {"estimator": trial.estimator, "params": trial.params},
    }


def read_trial_results(manifests: list[ResultManifest]) -> list[TrainedCandidate | FailedCandidate]:
    """Every trial's record from the Distributed Map's ResultWriter files: Train's output for a trial that
    succeeded, its input with the error and cause for one that failed."""
    results: list[TrainedCandidate | FailedCandidate] = []
    for manifest_ref in manifests:
        manifest = objects.get_json(S3Uri(manifest_ref.bucket, manifest_ref.key))
        files = manifest.get("ResultFiles", {})
        for status in ("SUCCEEDED", "FAILED"):
            for result_file in files.get(status, []):
                for execution in objects.get_json(S3Uri(manifest["DestinationBucket"], result_file["Key"])):
                    results.append(_trial_result(execution))
    return sorted(results, key=lambda r: (r.rung, r.index))


def _trial_result(execution: dict[str, Any]) -> TrainedCandidate | FailedCandidate:
    try:
        if execution["Status"] == "SUCCEEDED":
            output = json.loads(execution["Output"])
            if output.get("status") == "trained":
                return TrainedCandidate.model_validate(output)
            return FailedCandidate.model_validate(output)
        item = json.loads(execution["Input"])
        return FailedCandidate(
            status="failed",
            trial_id=item.get("trial_id"),
            index=item["index"],
            rung=item.get("rung", 0),
            fraction=item.get("fraction", 1.0),
            estimator=item["candidate"]["estimator"],
            params=item["candidate"].get("params", {}),
            error=execution.get("Error"),
            cause=(execution.get("Cause") or "")[:2000],
            compute=item.get("compute") or "lambda",  # the engine it failed on (a failed training job: sagemaker)
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidStepInput(f"a trial result the ResultWriter wrote is not a Train record: {exc}") from exc
