# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHECKOV_VENV := .venv-checkov
BENCH_OFFICIAL_VENV := .venv-bench-official
LOCK_VENV := .venv-lock
HOST ?= 127.0.0.1
PORT ?= 8000
STACK ?= dev
SCHEMA_CACHE := .schemas
# With LANGGRAPH_K8S_SCHEMA_DIR set (an offline copy), check it; otherwise download into the cache once.
SCHEMAS_READY := $(if $(LANGGRAPH_K8S_SCHEMA_DIR),schemas,$(SCHEMA_CACHE)/.verified)

.PHONY: run test lint format render validate snapshots bench record-official tools schemas clean lock e2e

# The test venv installs the image's own lock (app/requirements.lock) plus the rest of the dev lock, then the
# checkout itself editable, so `langgraph_k8s.infra` (how a consumer imports the components) works here too,
# e.g. for `make render PROJECT=examples/reuse`.
$(STAMP): app/requirements.lock requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes -r app/requirements.lock -r requirements-dev.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

## run: start the bundled server on $(HOST):$(PORT) (embedded SQLite unless DATABASE_URL is set)
run: $(STAMP)
	exec env HOST=$(HOST) PORT=$(PORT) $(BIN)/python -m app

## tools: validators the gate needs that are not pip packages of the main venv
tools: $(CHECKOV_VENV)/.installed
	@command -v promtool >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  else echo "promtool missing: install Debian's prometheus package" >&2; exit 1; fi; }

$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q checkov==3.3.30
	touch $@

## schemas: download the pinned upstream CRD and Pulumi project schemas into .schemas/, or check $$LANGGRAPH_K8S_SCHEMA_DIR
schemas: $(STAMP)
	$(BIN)/python -m tools.schemas

$(SCHEMA_CACHE)/.verified: tools/schemas.py | $(STAMP)
	$(BIN)/python -m tools.schemas
	touch $@

## test: lint, then the whole suite (mocks, render gate, server against real PostgreSQL and `langgraph dev`); containers: make e2e
test: lint $(SCHEMAS_READY) tools $(BENCH_OFFICIAL_VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest --ignore=tests/e2e

## render: write the Kubernetes objects of stack $(STACK) to rendered/$(STACK)/ (offline, secrets redacted)
render: $(STAMP)
	$(BIN)/python -m infra.render $(STACK) $(if $(PROJECT),--project $(PROJECT))

## validate: render $(STACK), then run the validation gate on it and on app/Dockerfile
validate: render tools $(SCHEMAS_READY)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m tools.validators rendered/$(STACK) --dockerfile app/Dockerfile

## snapshots: re-render every stack into tests/render/snapshots/ (review and commit the diff)
snapshots: $(STAMP)
	@for stack in $(patsubst Pulumi.%.yaml,%,$(wildcard Pulumi.*.yaml)); do \
	  $(BIN)/python -m infra.render $$stack --out tests/render/snapshots/$$stack || exit 1; done

## lint: ruff's checks and formatting
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: our server vs the in-process ceiling, the naive pattern and `langgraph dev`; updates docs/benchmarks.md
bench: $(STAMP) $(BENCH_OFFICIAL_VENV)/.installed
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## record-official: record `langgraph dev`'s answers to tests/sdk/script.py into tests/sdk/recorded/official.json
record-official: $(STAMP) $(BENCH_OFFICIAL_VENV)/.installed
	nice -n 19 $(BIN)/python -m tests.sdk.record

$(BENCH_OFFICIAL_VENV)/.installed: bench/official-requirements.txt
	$(PYTHON) -m venv $(BENCH_OFFICIAL_VENV)
	$(BENCH_OFFICIAL_VENV)/bin/pip install -q -r bench/official-requirements.txt
	touch $@

## lock: re-pin every distribution, with hashes, from the top-level requirements files (after editing them)
# From PyPI only (no local pip config or find-links), so the hashes are those any machine downloads.
PIP_COMPILE = env -u PIP_FIND_LINKS -u PIP_CONSTRAINT -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null \
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe \
	--strip-extras --no-emit-index-url --index-url https://pypi.org/simple
lock: $(LOCK_VENV)/.installed
	$(PIP_COMPILE) --output-file app/requirements.lock app/requirements.txt
	$(PIP_COMPILE) --constraint app/requirements.lock --output-file requirements-dev.lock requirements-dev.txt

$(LOCK_VENV)/.installed:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install -q pip-tools==7.6.2
	touch $@

## e2e: build the image with podman, run every workload of the dev and prod renders in containers, then
## check that broken pod specs fail it and the store's semantic search on PostgreSQL with pgvector
## (root and podman needed; see docs/e2e.md)
e2e: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m tests.e2e $(E2E_ARGS)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest tests/e2e

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(BENCH_OFFICIAL_VENV) $(LOCK_VENV) $(SCHEMA_CACHE) rendered
