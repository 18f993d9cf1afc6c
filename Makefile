# Two commands on a fresh machine: `make dev` and `make test`. Every target
# builds or refreshes the repo-local .venv itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export LAKEHOUSE_ROOT ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export MLFLOW_TRACKING_URI ?=
export PYTHONUNBUFFERED := 1

.PHONY: dev test lint materialize setup prepare dagster-home clean bench mlflow

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "lakehouse_jobs needs Python 3.11 or newer: install it and run make with PYTHON=python3.11.")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

# Java 17+ present and Delta jars fetched (once) before anything starts Spark.
prepare: $(STAMP)
	@$(BIN)/lakehouse-jobs prepare

dagster-home:
	@mkdir -p "$(DAGSTER_HOME)"
	@test -f "$(DAGSTER_HOME)/dagster.yaml" || cp dagster.yaml "$(DAGSTER_HOME)/dagster.yaml"

## Dagster webserver (127.0.0.1:3000) + daemon on the example lakehouse.
dev: prepare dagster-home
	@# dagster dev through a launcher that stops on Ctrl-C/SIGTERM even when started in the background (lib/dev.py)
	$(BIN)/python -m lakehouse_jobs.lib.dev -w workspace.yaml -h 127.0.0.1 -p 3000

## The whole test suite, lint first. TEST_WORKERS pytest-xdist workers (one Spark session each), a test
## file stays on one worker; measured on 2 cores: 31 min with one process, 22 min with two.
## Then the Spark tests again on Sail (LAKEHOUSE_ENGINE=sail; what it skips and why: lakehouse_jobs_tests/engines.py).
TEST_WORKERS ?= 2
test: lint prepare
	$(BIN)/python -m pytest lakehouse_jobs_tests -n $(TEST_WORKERS) --dist loadfile --durations=25
	LAKEHOUSE_ENGINE=sail $(BIN)/python -m pytest lakehouse_jobs_tests -n $(TEST_WORKERS) --dist loadfile --durations=10

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Materialize every asset of the example, non-interactively.
materialize: prepare dagster-home
	@# every lakehouse table; the example bundle's pipeline datasets are refreshed by its job (they read files it lands)
	$(BIN)/dagster asset materialize -m lakehouse_jobs.definitions --select 'not kind:pipeline'

bench: prepare
	$(BIN)/python bench/medallion.py
	$(BIN)/python bench/ingest_scaling.py
	$(BIN)/python bench/file_arrival_latency.py
	$(BIN)/python bench/streams.py
	$(BIN)/python bench/databricks_tasks.py
	$(BIN)/python bench/job_clusters.py
	$(BIN)/python bench/task_engines.py
	$(BIN)/python bench/validate.py

## MLflow UI (127.0.0.1:5000) on the store the assets log to ($$MLFLOW_TRACKING_URI, else sqlite in $$LAKEHOUSE_ROOT/mlflow).
MLFLOW_PORT ?= 5000
mlflow: $(STAMP)
	@mkdir -p "$(LAKEHOUSE_ROOT)/mlflow"
	$(BIN)/mlflow ui --host 127.0.0.1 --port $(MLFLOW_PORT) \
		--backend-store-uri "$${MLFLOW_TRACKING_URI:-sqlite:///$(LAKEHOUSE_ROOT)/mlflow/mlflow.db}" \
		--default-artifact-root "file://$(LAKEHOUSE_ROOT)/mlflow/artifacts"

clean:
	@test ! -x $(BIN)/lakehouse-jobs || $(BIN)/lakehouse-jobs clusters --stop  # warm job clusters of file-arrival runs
	rm -rf .dagster_home data/bronze data/silver data/gold data/_system
