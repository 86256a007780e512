# The two commands of the README: `make run` and `make test`. Each creates .venv when it
# is missing (with uv when it is on the PATH, else python3 -m venv and pip), installs the
# project with its locked dependencies, then does its job.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV := $(shell command -v uv 2>/dev/null)

.PHONY: run test fuzz fuzz-cli lint typecheck bench lock clean simgrid traces images timelines

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

# The long run of the migration fuzzer, before each release (docs/how-to/fuzz.md): hostile
# migration patterns on built-in and extreme profiles, every invariant checked. Vary it
# with e.g. `make fuzz FUZZ_COUNT=500 FUZZ_START=10000 FUZZ_STRATEGY=freeze-free FUZZ_PROFILE=extreme`.
FUZZ_COUNT ?= 5000
FUZZ_START ?= 0
FUZZ_STRATEGY ?= mixed
FUZZ_PROFILE ?= all

fuzz: $(STAMP)
	$(BIN)/python -m rhodos.testing.fuzz --count $(FUZZ_COUNT) --start $(FUZZ_START) \
	  --strategy $(FUZZ_STRATEGY) --profile $(FUZZ_PROFILE)

# The long runs of the robustness tests of the tool's input (before each release; not part
# of `make test`): 5,000 generated command lines, configs and profiles (`make test` runs
# 150), eight interrupted and three killed sweeps, the same on a Dask LocalCluster, and a
# sweep on a TLS Dask cluster (needs openssl). About ten minutes.
fuzz-cli: $(STAMP)
	RHODOS_HYPOTHESIS=explore RHODOS_FUZZ_EXAMPLES=5000 RHODOS_LONG_TESTS=1 $(BIN)/python -m pytest \
	  tests/test_cli_fuzz.py tests/test_interrupt.py tests/test_dask_tls.py

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# The README's figures (docs/how-to/strategy-map.md): the comparison and the four strategy
# maps, from a full map written into results/map (the map auto reads is not changed).
images: $(STAMP)
	$(BIN)/rhodos compare --plot docs/images/compare.png
	$(BIN)/rhodos map --out results/map
	cp results/map/strategy-map-*.png docs/images/

# The message-sequence charts of docs/how-to/timeline.md: every built-in strategy on
# migrate's default scenario, each picture with its data beside it (msc-NAME.json, which
# tests/test_timeline.py regenerates and compares: the test fails when they are stale).
timelines: $(STAMP)
	$(BIN)/rhodos migrate --strategy eager --timeline docs/images/msc-eager.png
	$(BIN)/rhodos migrate --strategy eager-dirty --timeline docs/images/msc-eager-dirty.png
	$(BIN)/rhodos migrate --strategy precopy --timeline docs/images/msc-precopy.png
	$(BIN)/rhodos migrate --strategy copy-on-reference --timeline docs/images/msc-copy-on-reference.png
	$(BIN)/rhodos migrate --strategy flushing --timeline docs/images/msc-flushing.png
	$(BIN)/rhodos migrate --strategy freeze-free --timeline docs/images/msc-freeze-free.png
	$(BIN)/rhodos migrate --strategy postcopy --timeline docs/images/msc-postcopy.png
	$(BIN)/rhodos migrate --strategy checkpoint-restart --timeline docs/images/msc-checkpoint-restart.png
	$(BIN)/rhodos migrate --strategy auto --timeline docs/images/msc-auto.png

# Regenerate the lock file from the current environment (after changing dependencies).
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^rhodos' > requirements.lock

clean:
	rm -rf $(VENV) results .pytest_cache .mypy_cache .ruff_cache

# Cross-check precopy against SimGrid's VM live-migration plugin (not part of `make test`):
# install Debian's libsimgrid-dev when it is missing, build the C++ driver, compare.
SIMGRID_XP := experiments/simgrid-crosscheck
SIMGRID_DRIVER := $(SIMGRID_XP)/build/driver

simgrid: $(STAMP) $(SIMGRID_DRIVER)
	$(BIN)/python $(SIMGRID_XP)/compare.py

$(SIMGRID_DRIVER): $(SIMGRID_XP)/driver.cpp $(SIMGRID_XP)/platform.hpp
	pkg-config --exists simgrid 2>/dev/null || test -f /usr/include/simgrid/plugins/live_migration.h || \
	  { if [ "$$(id -u)" = 0 ]; then s=; else s=sudo; fi; \
	    $$s apt-get update && $$s env DEBIAN_FRONTEND=noninteractive apt-get install -y libsimgrid-dev; }
	mkdir -p $(@D)
	$(CXX) -std=c++17 -O2 -Wall -Wextra $< -o $@ $$(pkg-config --cflags --libs simgrid 2>/dev/null || echo -lsimgrid)

# Record the shipped page traces again (not part of `make test`): install Debian's
# valgrind when it is missing, run each program under lackey, write the traces, their
# README and their pictures.
traces: $(STAMP)
	command -v valgrind >/dev/null || \
	  { if [ "$$(id -u)" = 0 ]; then s=; else s=sudo; fi; \
	    $$s apt-get update && $$s env DEBIAN_FRONTEND=noninteractive apt-get install -y valgrind; }
	$(BIN)/python -m rhodos.workload.pagetrace.remake --images docs/images
