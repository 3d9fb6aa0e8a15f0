# Two commands do all the set-up: `make run` and `make test` (see README.md).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test lint report image-report bench models install install-dev

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
	$(PY) -m core.reports.loan

image-report: install
	OMP_NUM_THREADS=1 $(PY) -m core.reports.images --data digits

bench: install
	$(PY) -m benchmarks.bench_training
	$(PY) -m benchmarks.bench_onnx
	$(PY) -m benchmarks.bench_retrieval
	$(PY) -m benchmarks.bench_gradient_descent
	$(PY) -m benchmarks.bench_quantize
	$(PY) -m benchmarks.bench_decoding
	$(PY) -m benchmarks.bench_load

models: install
	$(PY) -m core.shipped.build $(MODELS) $(if $(AFHQ_DIR),--afhq-dir $(AFHQ_DIR))
