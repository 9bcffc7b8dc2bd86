# Two entry points, both self-installing into ./.venv on first use:
#   make search   the main job: a search on the embedded digits data
#   make test     the test suite
#   make test-fast   the unit tests alone (no training, no servers; under a minute)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: search test test-fast lint install clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# a venv made before the switch to the `tensorflow` wheel holds tensorflow-cpu, which owns
	# the same files: remove it first, or the two would share (and later break) tensorflow/
	$(BIN)/python -m pip uninstall --quiet --yes tensorflow-cpu 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -e '.[test,ray]'
	touch $(STAMP)

install: $(STAMP)

search: $(STAMP)
	$(BIN)/cnntune search

# two test processes: the suite spends much of its time in one-core work (process start-up,
# TensorFlow imports, tracking), which a second process overlaps; loadscope keeps a module's
# tests on one process, so a module's shared study (a fixture) is made once, not twice
# (measured on a clean clone: 13m47s, against 14m36s with xdist's default distribution)
TEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) tests/unit

lint: $(STAMP)
	$(BIN)/ruff check cnntune tests benchmarks examples

clean:
	rm -rf $(VENV) build *.egg-info
