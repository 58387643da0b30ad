"""The SageMaker training image (training/Dockerfile) trains with exactly the pipeline's pins.

No Docker engine here, so the image is not built in the tests: what is checked is that it installs the ML layer's own
pin files, that its other pins agree with requirements.txt, and that every third-party module the job's entry point
imports (in a fresh interpreter) comes from a pinned distribution.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from local.template import ROOT

DOCKERFILE = ROOT / "training" / "Dockerfile"
PIN_FILES = (
    "layers/ml/requirements.txt",
    "layers/ml/dependencies.txt",
    "requirements-lambda-runtime.txt",
    "training/requirements.txt",
)
# scikit-learn imports these only where they are installed (the dev venv: rich for its tables, pandas for the SDK's
# tests), never required; the image installs neither
OPTIONAL_IMPORTS = {"rich", "pandas"}


def _pins(relative: str) -> dict[str, str]:
    lines = (ROOT / relative).read_text().splitlines()
    requirements = [Requirement(line.split("#", 1)[0].strip()) for line in lines if line.split("#", 1)[0].strip()]
    return {canonicalize_name(r.name): str(next(iter(r.specifier)).version) for r in requirements}


def test_the_image_installs_the_ml_layers_pin_files_without_resolving_others() -> None:
    text = DOCKERFILE.read_text()
    for relative in PIN_FILES:
        assert f"COPY {relative} " in text, f"the image does not install {relative}"
    assert "COPY functions/training_job /opt/program/functions/training_job" in text  # the entry point
    assert "pip install --no-deps" in text
    assert 'ENTRYPOINT ["python", "-m", "functions.training_job.app"]' in text
    assert "python:3.13" in text  # the Lambda runtime's minor version


def test_the_images_own_pins_agree_with_the_repositorys() -> None:
    root = _pins("requirements.txt")
    own = _pins("training/requirements.txt")
    assert {name: version for name, version in own.items() if name in root} == {
        name: root[name] for name in own if name in root
    }
    assert "pydantic" in own


def test_every_module_the_job_imports_is_pinned_for_the_image() -> None:
    probe = (
        "import sys, json, functions.training_job.app;"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names))))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": f"{ROOT / 'layers' / 'core' / 'python'}:{ROOT}", "PATH": "/usr/bin:/bin"},
    )
    modules = set(json.loads(completed.stdout)) - {"mlops", "functions"} - OPTIONAL_IMPORTS  # the image copies both
    pinned = {name for relative in PIN_FILES for name in _pins(relative)}
    distributions = importlib.metadata.packages_distributions()
    unpinned = {
        module: distributions.get(module)
        for module in modules
        if not module.startswith("_")
        and module != "cython_runtime"
        and not {canonicalize_name(d) for d in distributions.get(module, [])} & pinned
    }
    assert not unpinned, f"the job imports modules no pin file of the image installs: {unpinned}"
