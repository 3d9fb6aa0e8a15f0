# Two commands do all the set-up: `make run` and `make test` (see README.md).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test lint report bench models install install-dev

install:
	VENV=$(VENV) scripts/install.sh

install-dev:
	VENV=$(VENV) scripts/install.sh --dev

run: install
	$(PY) app.py

test: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

lint: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

report: install
	$(PY) -m core.loan_report

bench: install
	$(PY) -m benchmarks.bench_training

models: install
	$(PY) -m core.build_models $(MODELS)
