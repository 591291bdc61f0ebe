# The two commands of the README, plus the tools behind them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
BENCH_VENV := .venv-bench
PEER_BENCH ?= ../shared/peer-bench

.PHONY: run test lint typecheck bench bench-server clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

## Serve the showcase app on http://127.0.0.1:8000 (another port: make run PORT=8001)
run: $(STAMP)
	$(if $(PORT),ZEPHYR_PORT=$(PORT) )$(BIN)/python -m examples.showcase

## Lint, type-check and run every test
test: $(STAMP)
	$(BIN)/ruff check src tests examples bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests examples bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

## In-process benchmark against the peers (ratios to raw ASGI); see bench/README.md
bench:
	bash bench/run.sh inproc

## Under uvicorn + wrk (slow: ~40 minutes for every app)
bench-server:
	bash bench/run.sh server

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
