# The README's two commands: `make demo` and `make test`. Both work on a fresh machine with only
# Python 3.11 and the package registries.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (Python 3.11 is required)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/paperboy demo

lint: install
	$(BIN)/ruff check app tests bench migrations tools
	$(BIN)/ruff format --check app tests bench tools

test: install lint
	$(BIN)/python -m pytest -n 2 -q

bench: install
	$(BIN)/python bench/ingest_search.py

clean:
	rm -rf $(VENV) .paperboy .pytest_cache
