# Everything installs into .venv; nothing on the machine is assumed but python3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
# The shared datasets sit beside the checkout on the team's machines and in CI.
SHOPREC_DATA_DIR ?= $(wildcard $(abspath ../shared/data))
ifneq ($(SHOPREC_DATA_DIR),)
export SHOPREC_DATA_DIR
endif
# torch's OpenMP threads spin while waiting; on 2 shared cores that slows training several-fold.
export OMP_WAIT_POLICY := PASSIVE
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install demo test test-all lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch is pinned here as well as in pyproject so that pip never resolves a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0 -e ".[dev,fetch]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/shoprec demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src/shoprec

bench: $(STAMP)
	$(BIN)/python benchmarks/baselines.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info shoprec-report
