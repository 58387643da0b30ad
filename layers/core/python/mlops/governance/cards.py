"""Model cards: what a version is for, what it was trained on, how it scored, who approved it — readable alone.

The fields follow SageMaker model cards' sections (model overview, intended uses, training details, evaluation
details, additional information). A card is rendered from the registry record and the audit trail, so the
approval status and history are always current; a snapshot is written to S3 at registration and on approval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlops.governance import cost
from mlops.records.registry import AuditEvent, VersionRecord
from mlops.registry import documents
from mlops.storage import layout, objects
from mlops.storage.objects import S3Uri

CARD_SCHEMA_VERSION = "1"
APPROVAL_EVENTS = ("ApprovalRequested", "VersionApproved", "VersionRejectedByApprover", "ApprovalTimedOut")
TOP_FEATURES = 10  # features the card lists with their effect (the version keeps every one measured)
SCORE_WORDS = {"balanced_accuracy": "balanced accuracy drops", "neg_mean_absolute_error": "MAE rises"}


def build_card(record: VersionRecord, events: Sequence[AuditEvent]) -> dict[str, Any]:
    """The card of a version, from its record and the model's audit trail (for the approval history)."""
    lineage = record.lineage
    features = documents.schema_of(record).get("features", [])
    baseline_summary = {
        "features": len(features),
        "numeric": sum(f["kind"] == "numeric" for f in features),
        "categorical": sum(f["kind"] == "categorical" for f in features),
        "text": sum(f["kind"] == "text" for f in features),
        "baseline_uri": record.baseline_uri,
        "baseline_sha256": record.baseline_sha256,
    }
    approval_history = [
        {"event": e.event_type, "by": e.actor, "at": e.at, "reason": e.reason}
        for e in events
        if e.event_type in APPROVAL_EVENTS and (e.after or {}).get("version") == record.version
    ]
    serving = record.serving
    return {
        "card_schema_version": CARD_SCHEMA_VERSION,
        "model_overview": {
            "model_name": record.model_name,
            "version": record.version,
            "status": record.status,
            "description": record.description,
            "task": record.task,
            "target": record.target,
            "algorithm": record.estimator,
            "params": record.params,
            "created_at": record.created_at,
            "created_by": record.created_by,
            "artifact_uri": record.artifact_uri,
            "artifact_sha256": record.artifact_sha256,
        },
        "intended_uses": {
            "intended_use": record.intended_use,
            "limitations": record.limitations,
            "requested_by": lineage.requested_by,
        },
        "training_details": {
            "dataset_uri": lineage.dataset_uri,
            "data_sha256": lineage.data_sha256,
            "rows": lineage.rows,
            "split": lineage.split,
            "features": features,
            "candidates": lineage.candidates or documents.leaderboard_of(record),
            "execution_arn": lineage.execution_arn,
            "code_version": lineage.code_version,
            "libraries": lineage.libraries,
        },
        "evaluation_details": {
            "holdout_metrics": record.metrics,
            "validation_metrics": record.validation_metrics,
            "champion": record.champion,
            "gate": {k: record.gate.get(k) for k in ("decision", "metric", "reasons", "bootstrap", "baseline")},
            "lift_over_baseline": record.lift_over_baseline,
            "decision_threshold": record.decision_threshold,
            "feature_importance": _top_features(record.feature_importance),
            "performance_estimation": record.performance_estimation,
        },
        "additional_information": {
            "drift_baseline": baseline_summary,
            "approval": {
                "required": record.approval.get("required", False),
                "status": record.status,
                "decision": record.approval_decision,
                "history": approval_history,
            },
            "serving": {
                "runtime": serving.served_by,
                "precision": serving.precision,
                "onnx_uri": serving.onnx_uri,
                "reason": serving.reason,
                "parity": serving.parity,
            },
            "cost": cost.summary(record.cost),
        },
    }


def _top_features(importance: dict[str, Any] | None) -> dict[str, Any] | None:
    """The most important features with their effect: how much the holdout score drops when each is shuffled."""
    if not importance:
        return None
    return {
        "method": "permutation importance on the holdout (sklearn.inspection.permutation_importance)",
        "scoring": importance["scoring"],
        "rows": importance["rows"],
        "repeats": importance["repeats"],
        "seed": importance["seed"],
        "top": importance["features"][:TOP_FEATURES],
    }


def _importance_lines(importance: dict[str, Any] | None) -> list[str]:
    """The card's "Why it decides" table (nothing for a version registered before importance)."""
    if not importance:
        return []
    effect = SCORE_WORDS.get(importance["scoring"], f"{importance['scoring']} drops")
    lines = [
        "",
        "## Why it decides",
        "",
        f"Permutation importance on {importance['rows']} holdout rows, {importance['repeats']} shuffles per feature "
        f"(seed {importance['seed']}): how much the {effect.rsplit(' ', 1)[0]} changes when the feature is shuffled.",
        "",
        f"| rank | feature | effect when shuffled ({effect} by) | ± |",
        "|---|---|---|---|",
    ]
    lines += [f"| {f['rank']} | {f['name']} | {f['importance']:+.4f} | {f['std']:.4f} |" for f in importance["top"]]
    return lines


def _estimation_text(estimation: dict[str, Any] | None) -> str | None:
    """How the drift check estimates this version's performance before labels arrive (None: it cannot)."""
    if not estimation:
        return None
    how = f"CBPE, calibration {estimation['calibration']}" if estimation["method"] == "cbpe" else "DLE"
    return f"{how} ({estimation['fitted_with']}, fitted on {estimation['rows']} holdout rows)"


def write_card(bucket: str, record: VersionRecord, events: Sequence[AuditEvent]) -> S3Uri:
    """Snapshot the card to ``models/<name>/v<n>/card.json`` and ``card.md``; return the JSON's URI."""
    document = build_card(record, events)
    json_uri = layout.card(bucket, record.model_name, record.version, "json")
    objects.put_json(json_uri, document)
    markdown_uri = layout.card(bucket, record.model_name, record.version, "md")
    objects.put_bytes(markdown_uri, render_markdown(document).encode(), "text/markdown")
    return json_uri


def _interval_text(interval: dict[str, Any] | None) -> str | None:
    """The paired bootstrap of the improvement over the champion, as one line of the card (None: not measured)."""
    if not interval:
        return None
    required = {True: "required, passed", False: "required, not passed"}.get(interval.get("passed"), "recorded")
    return (
        f"{interval['metric']} {interval['observed_improvement']:+.4f}, {interval['confidence']:.0%} interval "
        f"[{interval['low']:+.4f}, {interval['high']:+.4f}] ({interval['usable_resamples']} paired resamples of "
        f"{interval['rows']} holdout rows, seed {interval['seed']}; {required})"
    )


def _lift_text(evaluation: dict[str, Any]) -> str | None:
    """The winner against the trivial baseline, as one line of the card (None: a version from before the floor)."""
    floor, lift = evaluation["gate"].get("baseline"), evaluation.get("lift_over_baseline")
    if not floor or not lift:
        return None
    measures = ", ".join(
        f"{metric} {values['difference']:+.4f}" + (f" (×{values['ratio']:.2f})" if values.get("ratio") else "")
        for metric, values in lift.items()
    )
    verdict = "beats it" if floor.get("passed") else "does not beat it"
    return f"{measures} over {floor['predicts']} (DummyClassifier/DummyRegressor {floor['strategy']}); {verdict}"


def _threshold_text(decision: dict[str, Any] | None) -> str | None:
    """Which probability threshold the version labels with, and why (None: 0.5, the target was not imbalanced)."""
    if not decision:
        return None
    applied = "applied" if decision.get("applied") else "not applied"
    return (
        f"{decision['threshold']:.4f} on the probability of {decision['positive_class']!r} ({applied}): "
        f"{decision['reason']}"
    )


def _table(rows: list[tuple[str, Any]]) -> list[str]:
    lines = ["| | |", "|---|---|"]
    lines += [f"| {name} | {value if value not in (None, '') else '—'} |" for name, value in rows]
    return lines


def render_markdown(card: dict[str, Any]) -> str:
    overview, uses = card["model_overview"], card["intended_uses"]
    training, evaluation = card["training_details"], card["evaluation_details"]
    extra = card["additional_information"]
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in evaluation["holdout_metrics"].items())
    champion = evaluation.get("champion") or {}
    lines = [
        f"# Model card: {overview['model_name']} v{overview['version']}",
        "",
        f"**Status:** {overview['status']} · **Task:** {overview['task']} of `{overview['target']}` · "
        f"**Algorithm:** {overview['algorithm']}",
        "",
        overview["description"] or "",
        "",
        "## Intended uses",
        "",
        *_table(
            [
                ("Intended use", uses["intended_use"]),
                ("Limitations", uses["limitations"]),
                ("Requested by", uses["requested_by"]),
            ]
        ),
        "",
        "## Training details",
        "",
        *_table(
            [
                ("Dataset", training["dataset_uri"]),
                ("Data sha256", f"`{training['data_sha256']}`"),
                ("Rows", training["rows"]),
                ("Split", training["split"]),
                ("Features", ", ".join(f"{f['name']} ({f['kind']})" for f in training["features"])),
                ("Run", training["execution_arn"]),
                ("Code version", training["code_version"]),
                ("Libraries", ", ".join(f"{k} {v}" for k, v in training["libraries"].items())),
            ]
        ),
        "",
        "### Candidates",
        "",
        "| estimator | status | validation |",
        "|---|---|---|",
    ]
    for candidate in training["candidates"] or []:
        scores = ", ".join(f"{k} {v:.4f}" for k, v in (candidate.get("validation_metrics") or {}).items())
        lines.append(
            f"| {candidate.get('estimator')} | {candidate.get('status')} | {scores or candidate.get('error')} |"
        )
    lines += [
        "",
        "## Evaluation (holdout)",
        "",
        *_table(
            [
                ("Metrics", metrics),
                ("Champion", f"v{champion.get('version')}" if champion else "none"),
                ("Gate", (evaluation["gate"].get("decision") or "").upper()),
                ("Reasons", "; ".join(evaluation["gate"].get("reasons") or [])),
                ("Improvement interval", _interval_text(evaluation["gate"].get("bootstrap"))),
                ("Lift over baseline", _lift_text(evaluation)),
                ("Decision threshold", _threshold_text(evaluation.get("decision_threshold"))),
                ("Estimated performance", _estimation_text(evaluation.get("performance_estimation"))),
            ]
        ),
        *_importance_lines(evaluation.get("feature_importance")),
        "",
        "## Drift baseline",
        "",
        *_table(list(extra["drift_baseline"].items())),
        "",
        "## Approval",
        "",
        *_table(
            [
                ("Required", extra["approval"]["required"]),
                ("Status", extra["approval"]["status"]),
                ("Decision", extra["approval"]["decision"]),
            ]
        ),
    ]
    for entry in extra["approval"]["history"]:
        lines.append(f"- {entry['at']} {entry['event']} by {entry['by']}: {entry['reason']}")
    serving = extra["serving"]
    lines += [
        "",
        "## Serving",
        "",
        *_table(
            [
                ("Served by", serving.get("runtime")),
                ("Why", serving.get("reason")),
                ("ONNX model", serving.get("onnx_uri")),
                ("ONNX precision", serving.get("precision")),
                ("Parity", (serving.get("parity") or {}).get("passed")),
            ]
        ),
        "",
        "## Cost",
        "",
        *_table(cost.summary_rows(extra.get("cost"))),
        "",
        f"Artifact `{overview['artifact_uri']}` (sha256 `{overview['artifact_sha256']}`).",
        "",
    ]
    return "\n".join(lines)
