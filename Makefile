# Two commands on a fresh machine: `make demo` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
AIRFLOW_VERSION := 3.3.2
EXTRAS := sfm,train,compress,local,dev
STAMP := $(VENV)/.installed

export AIRFLOW_HOME ?= $(CURDIR)/.local/airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False

.PHONY: install browser test lint typecheck unit demo serve up clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -c constraints.txt "apache-airflow==$(AIRFLOW_VERSION)" \
		-r requirements.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

# The viewer's browser tests drive Debian's Chromium (Playwright never downloads a browser here).
browser:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
		elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo apt-get install -y -qq chromium; \
		else echo "the viewer tests need Chromium: install the 'chromium' package" >&2; exit 1; fi; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install browser
	$(BIN)/pytest

test: lint typecheck unit

demo: install
	$(BIN)/python -m splatflow.local demo

serve: install
	$(BIN)/python -m splatflow.local serve

up: install
	$(BIN)/python -m splatflow.local up

clean:
	rm -rf .local .pytest_cache .mypy_cache .ruff_cache
