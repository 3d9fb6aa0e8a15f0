# Two commands do all the set-up: `make run` and `make test` (see README.md).
VENV ?= .venv
PY := $(VENV)/bin/python
DLSTUDIO := $(VENV)/bin/dlstudio

.PHONY: run test lint report image-report bench models encoder install install-dev install-distributed

install:
	VENV=$(VENV) scripts/install.sh

install-dev:
	VENV=$(VENV) scripts/install.sh --dev

install-distributed:
	VENV=$(VENV) scripts/install.sh --distributed

run: install
	$(DLSTUDIO) serve

test: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

lint: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

report: install
	$(DLSTUDIO) report loan --export-reference

image-report: install
	OMP_NUM_THREADS=1 $(DLSTUDIO) report image --data digits

bench: install
	$(PY) -m benchmarks.bench_training
	$(PY) -m benchmarks.bench_onnx
	$(PY) -m benchmarks.bench_retrieval
	$(PY) -m benchmarks.bench_gradient_descent
	$(PY) -m benchmarks.bench_quantize
	$(PY) -m benchmarks.bench_decoding
	$(PY) -m benchmarks.bench_load
	$(PY) -m benchmarks.bench_training_tab
	$(PY) -m benchmarks.bench_fair_share

encoder: install
	$(DLSTUDIO) build-encoder

models: install
	$(DLSTUDIO) build-models $(MODELS) $(if $(AFHQ_DIR),--afhq-dir $(AFHQ_DIR))
