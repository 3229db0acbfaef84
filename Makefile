# The commands the README and CI use. Everything the project needs is installed by `make install`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PYTEST_ARGS ?=

.PHONY: help install run migrate demo test test-unit test-integration bench schemas lint format

help:
	@echo "make run    - install, migrate and start every service and simulator (gateway on :6011)"
	@echo "make demo   - create a demo service, keys and templates on a running stack; prints JSON"
	@echo "make test   - install and run every test (unit + integration) against real services"
	@echo "make bench  - measure throughput on real processes (~15 min); writes docs/benchmarks.md (BENCH_ARGS to narrow)"
	@echo "make migrate, make schemas, make lint, make format"

$(UV):
	python3 -m pip install --user --quiet "uv>=0.4"

install: $(UV)
	$(UV) sync --frozen --quiet
	@tools/bin/install-kustomize .tools/bin
	@tools/bin/install-wrk .tools/bin

migrate: install
	$(UV) run --frozen notify-stack migrate

run: install
	$(UV) run --frozen notify-stack run

demo:
	@$(UV) run --frozen --quiet notifyctl demo

test: install
	$(UV) run --frozen pytest $(PYTEST_ARGS)

test-unit: install
	$(UV) run --frozen pytest -m "not integration" $(PYTEST_ARGS)

test-integration: install
	$(UV) run --frozen pytest tests/integration $(PYTEST_ARGS)

BENCH_ARGS ?=
bench: install
	$(UV) run --frozen notify-bench $(BENCH_ARGS)

schemas: install
	$(UV) run --frozen python -m notify_contracts.schema_export

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

format: install
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .
