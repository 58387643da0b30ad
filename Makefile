# The verbs a user types. `make demo` and `make test` work on a fresh clone: they create the virtual
# environments they need from the pinned requirements files.
SHELL := /bin/bash
VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
# The Lambda architecture to build for (the template's Architecture parameter): x86_64 or arm64.
ARCH ?= x86_64
# A samconfig.toml environment (default, dev, prod): its build section's settings apply to `make build`.
CONFIG_ENV ?= default

.PHONY: fuzz demo test lint template-check checkov unit integration events bench build size-check smoke clean \
	venv sam-venv checkov-venv

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@python=$$(tools/find_python.sh) && echo "using $$python" && "$$python" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .    # the `mlops` command (.venv/bin/mlops); its deps are pinned above
	@touch $@

# aws-sam-cli pins its own boto3 and pydantic ranges: it gets a virtual environment of its own.
$(SAM_VENV)/.installed: requirements-sam.txt
	@python=$$(tools/find_python.sh) && "$$python" -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	@touch $@

# checkov pins dozens of packages (its own boto3, networkx, ...): a virtual environment of its own too.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	@python=$$(tools/find_python.sh) && "$$python" -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	@touch $@

venv: $(VENV)/.installed
sam-venv: $(SAM_VENV)/.installed
checkov-venv: $(CHECKOV_VENV)/.installed

demo: venv  ## the whole pipeline on the embedded local AWS with the bundled breast-cancer dataset
	$(PY) -m local demo

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

template-check: venv sam-venv  ## sam validate --lint, cfn-lint on the template and on its SAM translation
	$(PY) -m tools.check_template

checkov: checkov-venv  ## checkov on the template; every skip is justified next to its resource
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet \
		--skip-download --skip-results-upload

unit: venv
	$(PY) -m pytest tests/unit tests/contract -q

integration: venv
	$(PY) -m pytest tests/integration -q

# Two workers (the machines this runs on have two cores), a test file per worker so module fixtures start once;
# files in the order tests/conftest.py gives (the longest first), not xdist's (the most tests first). The template
# checks are the suite's test_template_checks_pass (the same `python -m tools.check_template`, its output shown when
# it fails), run once, not twice; sam-venv because that test requires sam validate --lint to have run.
test: lint sam-venv  ## lint, template checks (in the suite) and the whole test suite
	$(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

bench: venv  ## benchmarks; each prints a ratio against a baseline measured in the same run
	$(PY) -m bench

events: venv  ## regenerate events/<function>/*.json from a real local execution
	$(PY) -m local write-events

# sam build runs no container. It needs python3.13 on PATH for the functions (tools/find_python.sh finds one: $PYTHON,
# python3.13, pyenv's 3.13.x, or python3 if it is 3.13, and fails saying how to get one); the layers' Makefiles
# run tools/build_layer.py with PYTHON, which needs pip (the SAM virtual environment's interpreter has it), and read
# the target architecture from LAMBDA_ARCHITECTURE.
build: venv sam-venv  ## sam build for python3.13 on $(ARCH) (no containers), then the per-function size check
	@python=$$(tools/find_python.sh) || exit 1; \
	echo "sam build: python3.13 is $$python; Architecture=$(ARCH)"; \
	PATH="$$(dirname "$$python"):$$PATH" PYTHON="$(CURDIR)/$(SAM_VENV)/bin/python" LAMBDA_ARCHITECTURE=$(ARCH) \
		$(SAM) build --config-env $(CONFIG_ENV) --parameter-overrides Architecture=$(ARCH)
	$(MAKE) --no-print-directory size-check

size-check: venv  ## unzipped size of each function + its layers against Lambda's limit and the budgets
	$(PY) -m tools.size_check --architecture $(ARCH)

smoke: venv  ## the built artifacts, each function alone with its layers in a clean python3.13, on the local AWS
	$(PY) -m tools.smoke_built --architecture $(ARCH)

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .ruff_cache

fuzz: venv  ## longer hostile-input runs: Hypothesis on the handlers, schemathesis on the API
	FUZZ_EXAMPLES=3000 SCHEMATHESIS_EXAMPLES=200 $(PY) -m pytest tests/fuzz -q -s -p no:cacheprovider
