# `make demo` and `make test` set everything up on a fresh machine.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
PIP     := $(BIN)/pip install --quiet -c constraints.txt
STAMP   := $(VENV)/.installed
DATA    ?= $(if $(wildcard ../shared/datasets),$(abspath ../shared/datasets),)

.PHONY: demo test test-all lint bench clean browser serve load-test

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(PIP) torch==2.13.0
	$(PIP) -e '.[dev,text]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/genzoo demo

# the browser tests of `genzoo serve` drive headless Chromium; CI is a fresh Debian machine
# running as root, where this installs it once (without root, install it yourself)
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
	  echo "installing chromium and chromium-driver for the browser tests"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends chromium chromium-driver; }

# the fast suite; `make test-all` adds the tests marked slow (every model through the bench)
test: $(STAMP) browser
	GENZOO_DATA=$${GENZOO_DATA:-$(DATA)} $(BIN)/python -m pytest -q -m "not slow"

test-all: $(STAMP) browser
	GENZOO_DATA=$${GENZOO_DATA:-$(DATA)} $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# the quick version of every speed benchmark, one table (benchmarks/speed.py)
bench: $(STAMP)
	GENZOO_DATA=$${GENZOO_DATA:-$(DATA)} $(BIN)/python benchmarks/speed.py \
		| tee benchmarks/results/speed.txt

serve: $(STAMP)
	$(BIN)/genzoo serve

load-test: $(STAMP)
	$(BIN)/python benchmarks/serve_load.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
