# The README's two commands: `make demo` and `make test`. Both work on a fresh machine with
# Python 3.11, 3.12 or 3.13 and the package registries.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK_CHECKED := $(VENV)/.lock-checked
# pyproject.toml's classifiers list the same versions (tests/test_packaging.py checks).
SUPPORTED := 3.13 3.12 3.11
IS_SUPPORTED := import sys; sys.exit(not (3, 11) <= sys.version_info < (3, 14))
# `make lock` resolves with uv (fast, and it locks for every Python and platform at once).
UV := uv==0.13.8
UV_COMPILE = $(VENV)/tools/bin/uv pip compile --quiet pyproject.toml --universal \
	--python-version 3.11 --generate-hashes --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)

# The newest supported Python present, looked for once and only if a venv is to be made (the
# first use of $(PYTHON) sets it). Each candidate is run, not just found: a pyenv shim exists for
# every installed version but fails for those not selected. Override with PYTHON=/path/to/python.
ifndef PYTHON
PYTHON = $(eval PYTHON := $(NEWEST_PYTHON))$(PYTHON)
endif
NEWEST_PYTHON = $(firstword $(foreach p,$(addprefix python,$(SUPPORTED)) python3,\
	$(shell $(p) -c '$(IS_SUPPORTED)' >/dev/null 2>&1 && echo $(p))))
PYTHON_OK = $(if $(PYTHON),$(shell $(PYTHON) -c '$(IS_SUPPORTED)' >/dev/null 2>&1 && echo yes))
NO_PYTHON = Paperboy needs Python 3.11, 3.12 or 3.13 and found $(or $(PYTHON),none on PATH): \
	install one (python.org, your package manager, pyenv or `uv python install 3.13`) and run make \
	again, with PYTHON=/path/to/python3.13 if it is not on PATH

.PHONY: install demo test lint check-lock lock bench clean

$(BIN)/python:
	$(if $(PYTHON_OK),,$(error $(NO_PYTHON)))
	$(PYTHON) -m venv $(VENV)

# Everything comes from the dev lock, hash-checked; then Paperboy itself, editable, with the
# locked setuptools, so nothing unpinned is installed.
$(STAMP): $(BIN)/python requirements-dev.lock pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/paperboy demo

lint: install
	$(BIN)/ruff check app tests bench migrations tools
	$(BIN)/ruff format --check app tests bench tools
	$(BIN)/lint-imports
	$(BIN)/mypy

# Only one Python runs here: check that the locks install from wheels on the others too. `make
# test` runs it when a lock file changed since it last passed; `make check-lock` always does.
$(LOCK_CHECKED): requirements.lock requirements-dev.lock pyproject.toml | $(STAMP)
	$(BIN)/python tools/check_lock.py
	@touch $(LOCK_CHECKED)

check-lock: install
	$(BIN)/python tools/check_lock.py

# Re-resolves pyproject.toml's dependencies, keeping the current pins where they still fit;
# `make lock UPGRADE=1` takes the newest versions allowed.
lock: $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade --target $(VENV)/tools "$(UV)"
	$(UV_COMPILE) -o requirements.lock
	$(UV_COMPILE) --extra dev --constraint requirements.lock -o requirements-dev.lock

test: install lint $(LOCK_CHECKED)
	$(BIN)/python -m pytest -n 2 -q

bench: install
	$(BIN)/python bench/ingest_search.py

clean:
	rm -rf $(VENV) .paperboy .pytest_cache
