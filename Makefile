# The two commands of the README: `make run` and `make test`. Each creates .venv when it
# is missing (with uv when it is on the PATH, else python3 -m venv and pip), installs the
# project with its locked dependencies, then does its job.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV := $(shell command -v uv 2>/dev/null)

.PHONY: run test lint typecheck bench lock clean

$(STAMP): pyproject.toml requirements.lock
ifdef UV
	test -x $(BIN)/python || $(UV) venv $(VENV)
	$(UV) pip install --python $(BIN)/python -r requirements.lock
	$(UV) pip install --python $(BIN)/python --no-deps -e .
else
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
endif
	touch $(STAMP)

run: $(STAMP)
	mkdir -p results
	$(BIN)/rhodos compare --csv results/compare.csv --plot results/compare.png

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# Regenerate the lock file from the current environment (after changing dependencies).
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^rhodos' > requirements.lock

clean:
	rm -rf $(VENV) results .pytest_cache .mypy_cache .ruff_cache
