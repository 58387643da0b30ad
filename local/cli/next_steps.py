"""What `up`'s banner and the demo's end say to do next: a predict example built for the model actually served (its
own input example, the row its smoke test served: its real columns), the dashboard, and how the state is kept."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path
from typing import Any

from local.stack import LocalStack


def served_example(stack: LocalStack, model_name: str) -> dict[str, Any] | None:
    """The production version's input example (one raw row by column name), or None when nothing is served."""
    from mlops.registry import documents  # noqa: PLC0415 - the core layer, on sys.path through local

    registry = stack.registry()
    alias = registry.get_alias(model_name)
    if alias is None:
        return None
    example = documents.input_example_of(registry.get_version(model_name, alias.version))
    return example or None


def write_example_files(model_name: str, example: dict[str, Any], directory: Path) -> tuple[Path, Path]:
    """The example as a predict request body (for curl) and as a one-row CSV (for `mlops predict`)."""
    directory.mkdir(parents=True, exist_ok=True)
    body = directory / f"predict-{model_name}.json"
    body.write_text(json.dumps({"instances": [example]}, indent=1) + "\n")
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(example))
    writer.writeheader()
    writer.writerow({k: "" if v is None else v for k, v in example.items()})
    rows = directory / f"predict-{model_name}.csv"
    rows.write_text(table.getvalue())
    return body, rows


def examples_directory(stack: LocalStack) -> Path:
    """Beside the kept state (it outlives the process), else a temporary directory."""
    if stack.state_dir is not None:
        return Path(stack.state_dir) / "examples"
    return Path(tempfile.mkdtemp(prefix="mlops-local-examples-"))


def try_lines(stack: LocalStack, url: str, model_name: str | None) -> list[str]:
    """The banner's `try:` lines: the model, a curl and an `mlops predict` of its own example row, the dashboard."""
    lines: list[str] = []
    if model_name is None:
        lines.append(
            f"  no model yet: mlops --url {url} train --dataset-uri ./your.csv --target COLUMN --model-name NAME"
            " (or restart with --seed)"
        )
        return lines
    mlops = f"mlops --url {url} --api-key {stack.api_key}"
    lines.append(f"  {mlops} versions list {model_name}")
    example = served_example(stack, model_name)
    if example is None:
        lines.append(f"  ({model_name} has no production version yet: mlops --url {url} deploy {model_name} VERSION)")
        return lines
    body, rows = write_example_files(model_name, example, examples_directory(stack))
    lines += [
        f"  curl -s -X POST {url}/models/{model_name}/predict -H 'x-api-key: {stack.api_key}' \\",
        f"       -H 'content-type: application/json' -d @{body}",
        f"  {mlops} predict {model_name} --data {rows}",
        f"  (both send one row of {model_name}'s own columns: {', '.join(list(example)[:6])}"
        + (", ..." if len(example) > 6 else "")
        + ")",
    ]
    return lines


def state_lines(stack: LocalStack) -> list[str]:
    if stack.state_dir is None:
        return ["  state: ephemeral, nothing is kept (drop --ephemeral to keep it in .local-aws/)"]
    return [
        f"  state: kept in {stack.state_dir} (Ctrl-C or kill saves it; the next `mlops local up` restores it;",
        "         `mlops local reset` clears it)",
    ]
