# The two front-door commands: `make run` and `make test`. Both need only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := contracts infra services/intake services/evaluation services/decision \
            services/notification services/reporting services/portal cli
PYPROJECTS := $(foreach p,$(PACKAGES),$(p)/pyproject.toml)

.PHONY: install run test lint typecheck pytest bench clean schemas browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python $(PYPROJECTS) requirements-dev.txt
	$(BIN)/pip install -q $(foreach p,$(PACKAGES),-e './$(p)[test]') -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## Install everything, then start NATS, the services and the portal with demo data.
run: install
	$(BIN)/ideabank up

## Install everything, then lint, type-check and run the whole test suite.
test: install lint typecheck pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy contracts/src infra/src services/*/src cli/src

## Debian's Chromium and the npm packages for the browser tests (skip: IDEABANK_SKIP_BROWSER=1).
browser:
	@if [ "$$IDEABANK_SKIP_BROWSER" != "1" ]; then bash tools/install-browser.sh; fi

pytest: browser
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

schemas: install
	$(BIN)/ideabank contracts generate

bench: install
	$(BIN)/python -m bench.relay_apply

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
