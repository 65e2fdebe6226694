# Two entry points: `make run` and `make test`. Both install whatever is missing first.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup run test test-unit test-api test-integration lint bench image-check clean

setup:
	bash scripts/setup.sh

run: setup
	$(VENV)/bin/appliance serve

test: setup
	$(VENV)/bin/ruff check appliance tests bench
	$(VENV)/bin/pytest -q -p no:cacheprovider tests

test-unit: setup
	$(VENV)/bin/pytest -q tests/unit

test-api: setup
	$(VENV)/bin/pytest -q tests/api

test-integration: setup
	$(VENV)/bin/pytest -q tests/integration

lint:
	$(VENV)/bin/ruff check appliance tests bench
	$(VENV)/bin/ruff format --check appliance tests bench

bench: setup
	$(PY) bench/api.py

image-check:
	bash scripts/check-image.sh

clean:
	rm -rf $(VENV) build *.egg-info
