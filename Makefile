# `make demo` and `make test` set everything up on a fresh machine.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
PIP     := $(BIN)/pip install --quiet -c constraints.txt
STAMP   := $(VENV)/.installed
DATA    ?= $(if $(wildcard ../shared/datasets),$(abspath ../shared/datasets),)

.PHONY: demo test test-all lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(PIP) torch==2.13.0
	$(PIP) -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/genzoo demo

# the fast suite; `make test-all` adds the tests marked slow (every model through the bench)
test: $(STAMP)
	GENZOO_DATA=$${GENZOO_DATA:-$(DATA)} $(BIN)/python -m pytest -q -m "not slow"

test-all: $(STAMP)
	GENZOO_DATA=$${GENZOO_DATA:-$(DATA)} $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	GENZOO_DATA=$${GENZOO_DATA:-$(DATA)} $(BIN)/python benchmarks/nade_throughput.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
