# Acorn: the two commands of the quick start are `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help venv dev services demo test lint format bench chaos clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' Makefile | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

venv:  ## create .venv and install Acorn (runtime only)
	@scripts/bootstrap.sh

dev:  ## create .venv with test and dev tools
	@scripts/bootstrap.sh test,dev

services:  ## install Mosquitto, PostgreSQL, socat and Chromium with apt-get when missing
	@scripts/install-services.sh

demo: venv  ## run the demo on embedded defaults (Ctrl-C stops it)
	$(BIN)/acorn demo $(DEMO_ARGS)

test: dev services  ## install everything the tests need, then run the whole suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: dev  ## ruff check, ruff format --check, mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: dev  ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

chaos: dev services  ## run the chaos suite (tests/chaos: faults under traffic, about 4 minutes)
	$(BIN)/python -m pytest tests/chaos $(PYTEST_ARGS)

bench: dev services  ## run every benchmark, then a table of figures and ceilings (BENCH_ARGS=--quick)
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
