# fleetops.release — build and test entry points. `make test` is the full run (what CI runs).
# Every tool comes from .venv (created by `make deps`); .venv/bin is first on PATH for all recipes,
# because ansible-runner and molecule call ansible-playbook from PATH.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
export PATH := $(BIN):$(PATH)
# no .pyc files in the tree (sanity and the tarball must not see them)
export PYTHONDONTWRITEBYTECODE := 1
# hypothesis' example database under .cache/ (ignored by git, galaxy build, lint) instead of .hypothesis/
export HYPOTHESIS_STORAGE_DIRECTORY := $(CURDIR)/.cache/hypothesis

PYTEST := $(BIN)/python -m pytest -p no:cacheprovider
UNIT_TIMEOUT ?= 120
FLEET_TIMEOUT ?= 600
PYTEST_ARGS ?=
FLEET_SIZE ?= 6

# Run pytest and turn exit code 5 ("no tests collected") into a failure with a clear message:
# a target that ran no test has not passed.
# $(call pytest_must_run,<what>,<pytest arguments>)
define pytest_must_run
rc=0; $(PYTEST) $(2) $(PYTEST_ARGS) || rc=$$?; \
if [ "$$rc" -eq 5 ]; then echo "make: $(1): pytest collected no tests; failing" >&2; exit 1; fi; \
exit "$$rc"
endef

.PHONY: help deps unit sanity lint changelog build build-test test-fast test-fleet test-harness test demo \
	fleet-up fleet-down clean distclean bench

help:
	@echo "make deps        install system packages and .venv (scripts/bootstrap.sh), link build/collections"
	@echo "make unit        unit tests (tests/unit)"
	@echo "make sanity      ansible-test sanity on a copy under build/ (scripts/sanity.sh)"
	@echo "make lint        ansible-lint --profile production (scripts/lint.sh)"
	@echo "make changelog   antsibull-changelog lint"
	@echo "make build-test  build + install the tarball, ansible-doc every module"
	@echo "make test-fast   unit + changelog + build-test + lint + sanity"
	@echo "make test-fleet  integration tests against the test fleet (pytest -m fleet)"
	@echo "make test-harness  tests of the test fleet itself, tests/fleet/ (pytest -m harness; not part of make test)"
	@echo "make molecule    molecule scenarios deploy and rollback (extensions/molecule) against the test fleet"
	@echo "make test        deps, then test-fast, then test-fleet (what CI runs)"
	@echo "make demo        deps, then scripts/demo.sh"
	@echo "make fleet-up / fleet-down   start / stop the $(FLEET_SIZE)-host test fleet"
	@echo "make build       ansible-galaxy collection build into dist/"
	@echo "make bench       rollback vs plain flip, floor and 1 MB deploy at 12 and 48 hosts: wall, controller CPU, task counts (bench/run.py; BENCH_ARGS=...)"
	@echo "make clean       remove build output (keeps .venv; distclean removes it too)"

deps:
	bash scripts/bootstrap.sh
	bash scripts/link-collection.sh

unit:
	@$(call pytest_must_run,unit,tests/unit --timeout $(UNIT_TIMEOUT) -q)

sanity:
	bash scripts/sanity.sh

lint:
	bash scripts/lint.sh

changelog:
	$(BIN)/antsibull-changelog lint
	$(BIN)/antsibull-changelog lint-changelog-yaml --strict changelogs/changelog.yaml

build-test:
	@$(call pytest_must_run,build-test,-m build tests/integration --timeout $(FLEET_TIMEOUT) -q)

# test-fast and test run every step even after a failure, so that one run reports all of them.
FAST_STEPS := unit changelog build-test lint sanity

test-fast:
	@failed=""; \
	for step in $(FAST_STEPS); do \
		echo "=== make $$step ==="; \
		$(MAKE) --no-print-directory $$step || failed="$$failed $$step"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test-fast: FAILED:$$failed" >&2; exit 1; fi; \
	echo "make test-fast: passed ($(FAST_STEPS))"

# FLEET_WORKERS pytest-xdist workers, each with its own fleet (tests/integration/conftest.py), a whole module per worker.
FLEET_WORKERS ?= 2
test-fleet:
	@$(call pytest_must_run,test-fleet,-m fleet tests/integration --timeout $(FLEET_TIMEOUT) -v --durations=60 \
		$(if $(filter-out 0 1,$(FLEET_WORKERS)),-n $(FLEET_WORKERS) --dist loadfile))

# Tests of the test fleet itself (fleetctl, the demo app, the load generator): run them after a change to tests/fleet/.
# Not part of make test, which tests the collection; they bring up two small extra fleets beside the session's.
test-harness:
	@$(call pytest_must_run,test-harness,-m harness tests/integration --timeout $(FLEET_TIMEOUT) -v --durations=20)

# The molecule scenarios through their pytest wrapper, whose session fixture brings the test fleet up and down:
# both in full here; make test-fleet runs the rollback scenario in full and the deploy scenario's syntax check.
.PHONY: molecule
molecule:
	@export FLEET_MOLECULE_ALL=1; $(call pytest_must_run,molecule,-m fleet tests/integration/test_molecule.py --timeout $(FLEET_TIMEOUT) -v)

test:
	$(MAKE) --no-print-directory deps
	@failed=""; \
	for step in test-fast test-fleet; do \
		$(MAKE) --no-print-directory $$step || failed="$$failed $$step"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed" >&2; exit 1; fi; \
	echo "make test: passed (test-fast test-fleet)"

demo:
	$(MAKE) --no-print-directory deps
	bash scripts/demo.sh

fleet-up:
	$(BIN)/python tests/fleet/fleetctl.py up $(FLEET_SIZE)

fleet-down:
	$(BIN)/python tests/fleet/fleetctl.py down

build:
	mkdir -p dist
	$(BIN)/ansible-galaxy collection build --force --output-path dist

# Not a test: prints figures (bench/README.md). Brings up its own fleet in /var/tmp/fleet-bench on 127.0.21/127.0.22.
BENCH_ARGS ?=
bench:
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf build dist tests/output .pytest_cache .cache .hypothesis
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf .venv
