"""docs/sdk.md's walkthrough, executed: its Python code blocks run in order, in one namespace, against a `local up`
started here (MLOPS_URL and MLOPS_API_KEY set as a user would), so the document cannot fall behind the SDK."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.conftest import ROOT
from tests.integration.test_mlops_cli import Server, _start, _stop

pytestmark = pytest.mark.integration

DOC = ROOT / "docs/sdk.md"


def python_blocks(markdown: str) -> list[str]:
    """The ```python fenced blocks of a Markdown document, in order."""
    return re.findall(r"^```python\n(.*?)^```$", markdown, flags=re.MULTILINE | re.DOTALL)


def test_the_walkthrough_has_the_steps_it_promises():
    code = "\n".join(python_blocks(DOC.read_text()))
    steps = ["train(", ".wait(", "versions(", "predict(", "compare(", "deploy(", "rollback(", "batch(", "card("]
    steps += ["register_model(", "register_mlflow_model(", "SchemaMismatch"]
    for call in [*steps, "upload(", "download("]:
        assert call in code, call


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("mlops-sdk-walkthrough")
    running = _start(directory / "state", directory / "up.log")
    yield running
    _stop(running)


def test_the_walkthrough_runs(server, monkeypatch, tmp_path, capsys):
    pytest.importorskip("pandas")
    pytest.importorskip("sklearn")
    pytest.importorskip("lightgbm")
    pytest.importorskip("mlflow.sklearn")
    monkeypatch.setenv("MLOPS_URL", server.url)
    monkeypatch.setenv("MLOPS_API_KEY", server.api_key)
    monkeypatch.delenv("MLOPS_STACK", raising=False)
    monkeypatch.chdir(tmp_path)  # the files the walkthrough writes
    namespace: dict[str, object] = {"__name__": "walkthrough"}
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 8
    for number, block in enumerate(blocks, start=1):
        exec(compile(block, f"docs/sdk.md block {number}", "exec"), namespace)  # noqa: S102 - the document's own code
    printed = capsys.readouterr().out
    # the last steps ran: the batch job's output was read and the card printed
    assert "SUCCEEDED" in printed and "production is v 2" in printed
    # the MLflow directory with the wrong target was refused on the client, naming both columns
    assert "['mean radius', 'target']" in printed
    assert sorted((tmp_path / "scored").glob("part-*.csv"))
