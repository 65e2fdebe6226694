# Two entry points: `make run` and `make test`. Both install whatever is missing first.
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup run test test-unit test-api test-integration reliability test-offline lint bench bench-scenarios image-check clean

setup:
	bash scripts/setup.sh

run: setup
	$(VENV)/bin/appliance serve

test: setup
	$(VENV)/bin/ruff check appliance tests bench
	VENV=$(VENV) bash scripts/test.sh

test-unit: setup
	$(VENV)/bin/pytest -q tests/unit

test-api: setup
	$(VENV)/bin/pytest -q tests/api

test-integration: setup
	$(VENV)/bin/pytest -q tests/integration

# Fuzz, faults, soak, bad SIP and security at full size (about 12 minutes on 2 cores); figures land in
# build/reliability.jsonl and are summarised in RELIABILITY.md. `make test` runs the quick counts.
reliability: setup
	APPLIANCE_RELIABILITY=full $(VENV)/bin/pytest -q -p no:cacheprovider tests/reliability tests/integration/test_recovery.py

# The suite with no network at all: set-up first (it may download), then the tests in a network namespace
# of their own with only loopback up (needs root or user namespaces).
test-offline: setup
	unshare -n sh -c 'ip link set lo up && $(VENV)/bin/pytest -q -p no:cacheprovider tests'

lint:
	$(VENV)/bin/ruff check appliance tests bench
	$(VENV)/bin/ruff format --check appliance tests bench

bench: setup
	$(PY) bench/api.py

# Task success: 32 scripted calls over real SIP per caller voice (about 25 minutes a voice on 2 cores).
bench-scenarios: setup
	$(PY) bench/scenarios.py --voices piper,espeak --out bench/results/scenarios.json

image-check:
	bash scripts/check-image.sh

clean:
	rm -rf $(VENV) build *.egg-info
