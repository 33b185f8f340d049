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

BACKEND ?= subprocess

.PHONY: install browser engine images test lint typecheck unit suite demo serve up clean

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

# The container engine the image tests and `BACKEND=docker` run under: Podman from Debian's packages
# (with runc, and debootstrap for stand-in base images where no registry answers). Its settings
# are the project's own (include/splatflow/local/containers/containers.conf), not /etc's. The
# `docker` client drives it through Docker's API; Debian's docker.io brings one where none is.
ENGINE_PACKAGES := podman runc debootstrap $(if $(shell command -v docker),,docker.io)
engine:
	@command -v podman >/dev/null && command -v debootstrap >/dev/null && command -v docker >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(ENGINE_PACKAGES); \
		elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(ENGINE_PACKAGES); \
		else echo "the image tests need Podman: install the packages $(ENGINE_PACKAGES)" >&2; exit 1; fi; }

# The three stage images, under the names the job requests carry (base images pulled, or stood in).
images: install engine
	$(BIN)/python -m splatflow.local images

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: install
	$(BIN)/mypy

# The suite runs in TEST_WORKERS processes (pytest-xdist), a test file to a process: most end-to-end
# tests wait on jobs and servers, so more processes than cores keep both cores busy. Work that every
# process would repeat (the stage images, Airflow's database) is done once per run (tests/conftest.py).
# Files go out longest first, in the order tests/conftest.py sorts them (--no-loadscope-reorder).
TEST_WORKERS ?= 4

# The fast loop after each change: every test but the end-to-end ones (`-m slow`).
unit: install browser
	$(BIN)/pytest -m "not slow" -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# Every test, the slow end-to-end ones included (what CI runs).
suite: install browser engine
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: lint typecheck suite

# BACKEND=docker runs every job in its stage image (built first) instead of as a process.
# PHOTOS=path runs the demo on your photos (a ZIP, or a folder of photos) instead of the sample.
demo: install $(if $(filter docker,$(BACKEND)),engine)
	$(BIN)/python -m splatflow.local demo --backend $(BACKEND) $(if $(PHOTOS),--photos "$(PHOTOS)")

serve: install $(if $(filter docker,$(BACKEND)),engine)
	$(BIN)/python -m splatflow.local serve --backend $(BACKEND)

up: install $(if $(filter docker,$(BACKEND)),engine)
	$(BIN)/python -m splatflow.local up --backend $(BACKEND)

clean:
	rm -rf .local .pytest_cache .mypy_cache .ruff_cache
