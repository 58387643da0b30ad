# The verbs a user types. `make demo` and `make test` work on a fresh clone: they create the virtual
# environments they need from the pinned requirements files.
SHELL := /bin/bash
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: demo test lint template-check unit integration events bench clean venv sam-venv

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@python=$$(tools/find_python.sh) && echo "using $$python" && "$$python" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

# aws-sam-cli pins its own boto3 and pydantic ranges: it gets a virtual environment of its own.
$(SAM_VENV)/.installed: requirements-sam.txt
	@python=$$(tools/find_python.sh) && "$$python" -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	@touch $@

venv: $(VENV)/.installed
sam-venv: $(SAM_VENV)/.installed

demo: venv  ## the whole pipeline on the embedded local AWS with the bundled breast-cancer dataset
	$(PY) -m local demo

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

template-check: venv sam-venv  ## sam validate --lint, cfn-lint on the template and on its SAM translation
	$(PY) -m tools.check_template

unit: venv
	$(PY) -m pytest tests/unit tests/contract -q

integration: venv
	$(PY) -m pytest tests/integration -q

test: lint template-check  ## lint, template checks and the whole test suite
	$(PY) -m pytest -q

bench: venv  ## benchmarks; each prints a ratio against a baseline measured in the same run
	$(PY) -m bench

events: venv  ## regenerate events/<function>/*.json from a real local execution
	$(PY) -m local write-events

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .ruff_cache
