"""Model cards: what a version is for, what it was trained on, how it scored, who approved it — readable alone.

The fields follow SageMaker model cards' sections (model overview, intended uses, training details, evaluation
details, additional information). A card is rendered from the registry record and the audit trail, so the
approval status and history are always current; a snapshot is written to S3 at registration and on approval.
"""

from __future__ import annotations

from typing import Any

CARD_SCHEMA_VERSION = "1"
APPROVAL_EVENTS = ("ApprovalRequested", "VersionApproved", "VersionRejectedByApprover", "ApprovalTimedOut")


def build_card(record: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    lineage = record.get("lineage", {})
    features = record.get("schema", {}).get("features", [])
    baseline_summary = {
        "features": len(features),
        "numeric": sum(f["kind"] == "numeric" for f in features),
        "categorical": sum(f["kind"] == "categorical" for f in features),
        "baseline_uri": record.get("baseline_uri"),
        "baseline_sha256": record.get("baseline_sha256"),
    }
    approval_history = [
        {"event": e["event_type"], "by": e["actor"], "at": e["at"], "reason": e["reason"]}
        for e in events
        if e["event_type"] in APPROVAL_EVENTS and (e.get("after") or {}).get("version") == record["version"]
    ]
    gate = record.get("gate", {})
    return {
        "card_schema_version": CARD_SCHEMA_VERSION,
        "model_overview": {
            "model_name": record["model_name"],
            "version": record["version"],
            "status": record["status"],
            "description": record.get("description", ""),
            "task": record.get("task"),
            "target": record.get("target"),
            "algorithm": record.get("estimator"),
            "params": record.get("params", {}),
            "created_at": record.get("created_at"),
            "created_by": record.get("created_by"),
            "artifact_uri": record.get("artifact_uri"),
            "artifact_sha256": record.get("artifact_sha256"),
        },
        "intended_uses": {
            "intended_use": record.get("intended_use", ""),
            "limitations": record.get("limitations", ""),
            "requested_by": lineage.get("requested_by"),
        },
        "training_details": {
            "dataset_uri": lineage.get("dataset_uri"),
            "data_sha256": lineage.get("data_sha256"),
            "rows": lineage.get("rows"),
            "split": lineage.get("split"),
            "features": features,
            "candidates": lineage.get("candidates", record.get("leaderboard", [])),
            "execution_arn": lineage.get("execution_arn"),
            "code_version": lineage.get("code_version"),
            "libraries": lineage.get("libraries", {}),
        },
        "evaluation_details": {
            "holdout_metrics": record.get("metrics", {}),
            "validation_metrics": record.get("validation_metrics", {}),
            "champion": record.get("champion"),
            "gate": {k: gate.get(k) for k in ("decision", "metric", "reasons")},
        },
        "additional_information": {
            "drift_baseline": baseline_summary,
            "approval": {
                "required": (record.get("approval") or {}).get("required", False),
                "status": record["status"],
                "decision": record.get("approval_decision"),
                "history": approval_history,
            },
            "serving": {
                k: (record.get("serving") or {}).get(k)
                for k in ("runtime", "precision", "onnx_uri", "reason", "parity")
            },
        },
    }


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
            ]
        ),
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
        f"Artifact `{overview['artifact_uri']}` (sha256 `{overview['artifact_sha256']}`).",
        "",
    ]
    return "\n".join(lines)
