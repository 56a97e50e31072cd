# Entry points. `make demo` and `make test` work on a fresh machine: each sets up
# what it needs first (a venv in .venv with the project installed, buf from npm).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test check lint typecheck proto proto-check docs bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

setup: $(STAMP)

demo: setup
	$(BIN)/bashu demo

test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: setup node_modules/.package-lock.json
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	npx buf lint
	npx buf format -d --exit-code

typecheck: setup
	$(BIN)/mypy

proto: setup
	$(BIN)/python scripts/genproto.py

proto-check: setup
	$(BIN)/python scripts/genproto.py --check
	$(BIN)/python scripts/gendocs.py --check

docs: setup
	$(BIN)/python scripts/gendocs.py

check: lint typecheck proto-check

bench: setup
	$(BIN)/python bench/ledger.py --quick

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache .hypothesis
