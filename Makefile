# Everything installs into .venv; nothing on the machine is assumed but python3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SITE_CONFIG := $(VENV)/shoprec.toml
export HF_HUB_OFFLINE := 1
# The shared datasets sit beside the checkout on the team's machines and in CI. They are not
# passed through the environment (which only `make` would see) but recorded in the virtualenv's
# own shoprec.toml, so `make demo`, `make shell`, `source .venv/bin/activate` and
# `.venv/bin/shoprec` all look in the same place. SHOPREC_DATA_DIR, when set, still wins.
SHARED_DATA := $(wildcard $(abspath ../shared/data))
ifneq ($(SHOPREC_DATA_DIR),)
export SHOPREC_DATA_DIR
endif
# torch's OpenMP threads spin while waiting; on 2 shared cores that slows training several-fold.
export OMP_WAIT_POLICY := PASSIVE
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install site-config demo shell test test-all lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch is pinned here as well as in pyproject so that pip never resolves a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0 -e ".[all,dev]"
	touch $(STAMP)

site-config: $(STAMP)
ifneq ($(SHARED_DATA),)
	@printf '# Written by make: where shoprec looks for named datasets (see `shoprec datasets`).\n[data]\ndir = "%s"\n' "$(SHARED_DATA)" > $(SITE_CONFIG)
endif

install: $(STAMP) site-config

demo: install
	$(BIN)/shoprec demo

# A shell with .venv activated: `shoprec` and `python` are the project's (exit to leave).
shell: install
	@echo "shoprec environment: $$(pwd)/$(VENV) (type exit to leave)"
	@. $(BIN)/activate && exec $${SHELL:-/bin/sh} -i

test: install
	$(BIN)/python -m pytest -q -m "not slow"

test-all: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src/shoprec

bench: install
	$(BIN)/python benchmarks/baselines.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info shoprec-report
