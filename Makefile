# Verbs: make test | make demo | make local | make emulator | make lint | make bench | make stress
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv test lint typecheck unit emulator local demo bench stress clean fmt

$(STAMP): requirements.txt functions/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/cfn-lint template.yaml

typecheck: $(STAMP)
	$(VENV)/bin/mypy

fmt: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

unit: $(STAMP)
	$(VENV)/bin/pytest

test: lint typecheck unit

emulator: $(STAMP)
	$(PY) -m infra.emulator

local: $(STAMP)
	$(PY) -m infra.local_cloud

demo: $(STAMP)
	$(PY) -m infra.demo

bench: $(STAMP)
	$(PY) -m tests.bench

# make stress ARGS="--tasks 200 --cpu-load --runs 3"
stress: $(STAMP)
	$(PY) -m infra.stress $(ARGS)

clean:
	rm -rf $(VENV) .local .mypy_cache .pytest_cache .ruff_cache .aws-sam
