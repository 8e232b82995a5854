# Two commands do everything from a fresh clone: `make drill` and `make test`.
# Both build the virtualenv .venv at the repository root from constraints.txt (the lock).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test test-all lint typecheck imports unit unit-all drill bench lock clean sandbox-down
.PHONY: k8s .drills/bin/kubectl chromium

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@command -v redis-server >/dev/null || $(MAKE) --no-print-directory redis-server
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

lint: venv
	$(BIN)/ruff check drills fixtures scenarios tests conftest.py
	$(BIN)/ruff format --check drills fixtures scenarios tests conftest.py

# The harness's own tests too (tests/plugin/examples are toy projects pytester copies elsewhere).
typecheck: venv
	$(BIN)/mypy drills fixtures scenarios
	$(BIN)/mypy tests --exclude 'tests/plugin/examples/'

imports: venv
	$(BIN)/lint-imports

# `extended` tests (a variant's passing run, a second case of a behaviour make test drills) only run in test-all:
# make test is CI's command and must stay well under 45 minutes on 2 cores.
unit: venv .drills/bin/kubectl chromium
	$(BIN)/pytest tests --durations=30 -m "not extended"

unit-all: venv .drills/bin/kubectl chromium allure
	$(BIN)/pytest tests --durations=30

# Everything make test runs, plus the extended end-to-end tests (over 20 minutes more).
test-all: lint typecheck imports unit-all

# The sandbox's upstream binaries (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, metrics-server), built from drills/sandbox/k8s/ into ~/.cache/drills/k8s/<key>/bin
# ($DRILLS_CACHE_DIR overrides). The first build takes many minutes; later ones are cache hits.
k8s: venv
	$(BIN)/python -m drills.sandbox.build

# kubectl for the runbook commands and the tests: a symlink to the cached kubectl, built from the
# same release as the API server. Phony so a change of go.mod re-points it (a cache hit is < 1 s).
.drills/bin/kubectl: venv
	$(BIN)/python -m drills.sandbox.build --link-kubectl $@

# A headless Chromium for `drills report --pdf` and its test, from the npm package
# @sparticuz/chromium into ~/.cache/drills/chromium/<version> (70 MB download, ~4 s the first time,
# a cache hit after). Best effort: without npm or the registry, --pdf says how to get a browser
# and the PDF test skips with the reason. A chromium on PATH or $DRILLS_CHROMIUM is used first.
chromium: venv
	$(BIN)/python -m drills.reporting.chromium --best-effort

# The harness's own tests: lint, types, layer contracts, then the suite.
test: lint typecheck imports unit

# Bring up the sandbox and run every scenario under load; evidence goes to reports/<run-id>/.
drill: venv .drills/bin/kubectl chromium
	$(BIN)/drills run; status=$$?; $(BIN)/drills sandbox down; exit $$status

bench: venv
	$(BIN)/python -m tests.bench

# The Allure 2 command line for `drills report --allure` and its test: allure-commandline from
# Maven Central (25 MB, ~5 s the first time, sha256 checked) into ~/.cache/drills/allure/<version>,
# a cache hit after. Best effort: without the registry, --allure says how to get it and the test
# skips with the reason. $DRILLS_ALLURE or an allure on PATH is used instead. It runs on Java.
.PHONY: allure
allure: venv
	$(BIN)/python -m drills.cli.allure_fetch --best-effort
unit: allure

# Re-resolve the lock from pyproject.toml (needs the package registry).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet -e '.[dev]'
	.lockenv/bin/pip freeze --exclude-editable | grep -v '^-e ' > constraints.txt
	rm -rf .lockenv

# The sandbox's task broker (RUNBOOKS §3.16): Debian's redis-server, installed as root when it is
# missing (the PyPI wheel `redis-server` has no build for this platform). Not root: say so.
.PHONY: redis-server
redis-server:
	@if [ "$$(id -u)" != 0 ]; then echo "redis-server missing: install Debian's redis-server as root (apt-get install -y redis-server)" >&2; exit 1; fi
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server

sandbox-down: venv
	$(BIN)/drills sandbox down

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .drills
