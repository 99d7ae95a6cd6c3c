# prefline — `make run` sets everything up and builds the sample; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export PREFLINE_HOME ?= $(CURDIR)/.prefline_home
export DAGSTER_HOME ?= $(PREFLINE_HOME)/dagster
export GX_ANALYTICS_ENABLED := False
export DO_NOT_TRACK := 1
export PATH := $(CURDIR)/$(BIN):$(PATH)
DBT_MANIFEST := dbt_project/target/manifest.json

.PHONY: run test lint install manifest sample build ui validate clean browser trainer-smoke bench-dedup

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/.installed

## the spark extra (pyspark, dbt-spark; ~630 MB) for tests/test_spark_parity.py, part of `make test`
$(BIN)/.spark-installed: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test,spark]"
	touch $@

$(DBT_MANIFEST): $(BIN)/.installed dbt_project/dbt_project.yml $(shell find dbt_project/models dbt_project/macros dbt_project/tests -type f 2>/dev/null)
	$(BIN)/dagster-dbt project prepare-and-package --file pipeline/core/dbt_project.py

manifest: $(DBT_MANIFEST)

sample: manifest
	$(BIN)/prefline sample

## run: install, prepare the dbt manifest, write the sample, build and publish it
run: sample
	$(BIN)/prefline build --all
	@echo "Open the Dagster UI on the same run history: make ui"

## browser: Debian's Chromium for the UI test (Playwright drives it; no browser download)
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## lint: ruff on the Python, sqlfluff (dbt templater) on the models
lint: manifest
	$(BIN)/ruff check .
	PREFLINE_HOME=$$(mktemp -d) $(BIN)/sqlfluff lint dbt_project/models

## test: install what the tests need, lint, and run the tests
test: manifest browser lint $(BIN)/.spark-installed
	$(BIN)/python -m pytest

## ui: the Dagster UI on 127.0.0.1:3000 over $PREFLINE_HOME's run history
ui: manifest
	@mkdir -p $(DAGSTER_HOME) && test -f $(DAGSTER_HOME)/dagster.yaml || cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000 -m pipeline.definitions

validate: manifest
	$(BIN)/dagster definitions validate -m pipeline.definitions

## trainer-smoke: a few TRL DPO and KTO steps on LATEST (opt-in; its own venv with CPU torch 2.13.0)
TRAINER := .venv-trainer/bin
$(TRAINER)/.installed:
	test -x $(TRAINER)/python || $(PYTHON) -m venv .venv-trainer
	$(TRAINER)/python -m pip install --quiet torch==2.13.0
	$(TRAINER)/python -m pip install --quiet torch==2.13.0 trl==1.16.0 transformers==5.23.0 accelerate==1.15.0 datasets==5.2.0 tokenizers pyarrow
	touch $@

trainer-smoke: $(TRAINER)/.installed
	@test -f $(PREFLINE_HOME)/datasets/preference_pairs/LATEST || $(MAKE) run
	$(TRAINER)/python scripts/trainer_smoke.py

## bench-dedup: near-dup clustering, prefline vs datatrove (its own venv, bench/.venv-datatrove),
## 100k and 1M prompts with a nightly increment, and the LSH settings sweep behind the defaults
bench-dedup: install
	$(BIN)/python bench/dedup.py --prompts 100000 --sweep
	$(BIN)/python bench/dedup.py --prompts 100000 --increment 10000
	$(BIN)/python bench/dedup.py --prompts 1000000 --increment 100000

clean:
	rm -rf dbt_project/target dbt_project/logs .pytest_cache
