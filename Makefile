# Verbs: make test | make demo | make build | make local | make emulator | make lint | make bench
#        make stress | make chaos | make console-check | make smoke [DRY_RUN=1]
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Heavy tools live in their own pinned environments, apart from the product's dependencies.
TOOLS := .tools
SAM := $(TOOLS)/sam/bin/sam
CHECKOV := $(TOOLS)/checkov/bin/checkov
# The second ASL interpreter (tests/workflow/test_second_interpreter.py): aws-local-stepfunctions,
# pinned by infra/build/interpreter/package-lock.json, installed by `npm ci` under .tools/.
INTERPRETER := $(TOOLS)/interpreter/.installed
INTERPRETER_PINS := infra/build/interpreter/package.json infra/build/interpreter/package-lock.json
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
	console-check interpreter smoke

# Installing system packages (Debian's): as root, or through sudo.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

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

# Node from the machine, else Debian's (nodejs, npm); the package exactly as the lock file pins
# it. It declares Node >= 22 (npm warns) and runs on 18 and 20 with run.mjs's two polyfills.
$(INTERPRETER): $(INTERPRETER_PINS)
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || \
		{ $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends nodejs npm; }
	rm -rf $(TOOLS)/interpreter
	mkdir -p $(TOOLS)/interpreter
	cp $(INTERPRETER_PINS) $(TOOLS)/interpreter/
	cd $(TOOLS)/interpreter && npm ci --no-audit --no-fund --loglevel=error
	touch $@

interpreter: $(INTERPRETER)

tools: $(TOOLS)/sam/.installed $(TOOLS)/checkov/.installed $(IAM_TOOLS) $(RUNTIME_SITE)/.installed \
	$(INTERPRETER)

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

# tests/build/test_iam_check.py runs the IAM catalogues; tests/workflow/test_second_interpreter.py
# the second interpreter.
unit: $(STAMP) $(BUILT) $(IAM_TOOLS) $(INTERPRETER)
	$(VENV)/bin/pytest -n 2 --dist loadfile

test: lint typecheck unit

emulator: $(STAMP)
	$(PY) -m infra.local.emulator

# make local PARAMS="AsposeCallsPerSecond=4 BreakerProbeSeconds=2": template parameters over the
# local defaults (make stress takes the same).
OVERRIDES = $(addprefix --parameter ,$(PARAMS))

local: $(STAMP)
	$(PY) -m infra.local.cloud $(OVERRIDES)

demo: $(STAMP)
	$(PY) -m infra.local.demo

# The console's pages in a real headless browser (Debian's chromium, installed when missing);
# writes docs/console.png and docs/console-list.png. Not part of `make test`: CI may lack chromium.
console-check: $(STAMP)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		{ $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium; }
	$(PY) -m infra.local.console_check

bench: $(STAMP)
	$(PY) -m tests.bench

# make stress ARGS="--tasks 200 --cpu-load --runs 3"
# make stress PARAMS="AsposeCallsPerSecond=4" \
#   ARGS="--tasks 200 --outage 60 --outage-after 20 --plot docs/fleet.svg"  (the README's plot)
stress: $(STAMP)
	$(PY) -m infra.local.stress $(ARGS) $(OVERRIDES)

# make smoke: the opt-in proof on your own AWS account with your Aspose credentials (README: "Prove
# it on your account"): states what it creates and costs, asks (YES=1 answers), deploys a stack of
# its own, runs the sample ID card through it, checks, always deletes it and reports. Without
# credentials it prints one line naming what is missing and exits 0.
# make smoke DRY_RUN=1: the same script against the local cloud (tests/e2e/test_smoke.py, in make
# test). REPORT=FILE also writes the report as JSON.
SMOKE := .smoke
SMOKE_ARGS := --sample $(SMOKE)/samples/id_card $(if $(REPORT),--json-report $(REPORT))
smoke: $(STAMP)
	@$(PY) -m infra.local.samples $(SMOKE)/samples >/dev/null
ifeq ($(DRY_RUN),1)
	@$(PY) -m infra.local.smoke $(SMOKE_ARGS)
else
	@YES="$(YES)" $(PY) -m infra.ops.smoke $(SMOKE_ARGS) --sam $(SAM)
endif

# make chaos SEED=7 TASKS=300: a seeded random soak checked against ground truth (without SEED,
# a random one, printed first; the schedule and the report go to .local/chaos/).
TASKS ?= 300
chaos: $(STAMP)
	$(PY) -m infra.local.chaos $(if $(SEED),--seed $(SEED)) --tasks $(TASKS)

clean:
	rm -rf $(VENV) $(TOOLS) .local .mypy_cache .pytest_cache .ruff_cache .aws-sam $(SMOKE)
