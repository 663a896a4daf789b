# Two commands for a newcomer: `make up` runs everything, `make test` runs every test.
SHELL := /bin/bash
PY := uv run python
PYTEST_ARGS ?=

.PHONY: up up-cluster test-cluster bench-scale chaos-cluster test test-staging install check lint typecheck unit samples bench bench-rebuild bench-fairness bench-staging chaos clean

up: install
	$(PY) deploy/dev/stack.py up

# Three KRaft brokers (RF 3, min ISR 2) and two processes of every stage; `make up` stays one broker, one each.
up-cluster: install
	$(PY) deploy/dev/stack.py up --cluster .run/cluster --instances 2

# Every boot check variant under QEMU takes a minute or more each: `make test` boots one image (the e2e staging
# test); `make test-staging` boots them all.
test: install
	$(PY) deploy/dev/stack.py with-infra .run/test -- uv run pytest -m "not staging and not cluster" $(PYTEST_ARGS)

test-staging: install
	$(PY) deploy/dev/stack.py with-infra .run/test-staging -- uv run pytest -m staging $(PYTEST_ARGS)

# The cluster's own suite (tests/cluster, marker `cluster`): its stack alone takes longer than `make test` allows.
test-cluster: install
	$(PY) deploy/dev/stack.py with-infra --cluster .run/test-cluster -- uv run pytest tests/cluster -m cluster -s $(PYTEST_ARGS)

install:
	@scripts/install

unit: install
	uv run pytest -m "not e2e and not integration and not staging and not cluster" $(PYTEST_ARGS)

lint: install
	uv run ruff check .

typecheck: install
	uv run mypy contract/src shared/src services/*/src cli/src

check: lint typecheck test

samples:
	$(PY) -m tests.contract.examples

bench: install
	$(PY) deploy/dev/stack.py with-infra .run/bench -- uv run python bench/pipeline.py

chaos: install
	OFFERFLOW_CHAOS=full $(PY) deploy/dev/stack.py with-infra .run/chaos -- uv run pytest tests/chaos -m chaos -s

bench-rebuild: install
	$(PY) deploy/dev/stack.py with-infra .run/bench-rebuild -- uv run python bench/rebuild.py

bench-scale: install
	$(PY) deploy/dev/stack.py with-infra --cluster .run/bench-scale -- uv run python bench/scale.py

chaos-cluster: install
	OFFERFLOW_CHAOS=cluster $(PY) deploy/dev/stack.py with-infra --cluster .run/chaos-cluster -- uv run pytest tests/chaos -m chaos -s

bench-staging: install
	$(PY) bench/staging.py

bench-fairness: install
	$(PY) deploy/dev/stack.py with-infra .run/bench-fairness -- uv run python bench/fairness.py

clean:
	rm -rf .run
