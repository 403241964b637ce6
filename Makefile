# Astera Lend in Python — developer entry points.
# `make run` and `make test` bootstrap .venv on a fresh machine (needs python3 >= 3.11).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: all run test test-fast bench lint clean venv

all: test

# Single reusable bootstrap: create the venv if missing, reinstall only when pyproject.toml changes.
venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

run: $(STAMP)
	$(BIN)/astera serve

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

# The edit-test loop: everything but the slow modules (tests/conftest.py SLOW_MODULES).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "not slow"

bench: $(STAMP)
	$(BIN)/python bench/run.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .hypothesis .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
