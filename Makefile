# Everything a newcomer or CI needs: `make demo` and `make test`. Each target installs what it uses.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Lambda runs python3.13; pyenv machines keep it installed but not active.
export PYENV_VERSION ?= 3.11.7:3.13.0
PYTHON313 ?= $(shell command -v python3.13 2>/dev/null || ls -1 $(HOME)/.pyenv/versions/3.13*/bin/python3.13 2>/dev/null | tail -1)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# The venv's python3.13 on PATH is what `sam build` looks for.
export PATH := $(BIN):$(PATH)
export AWS_DEFAULT_REGION ?= eu-west-1
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv lint typecheck template build unit test demo clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON313)" || { echo "python3.13 not found: install Python 3.13 (pyenv install 3.13) and run make again."; exit 1; }
	$(PYTHON313) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --group dev
	@touch $@

venv: $(VENV)/.installed ## Create .venv with the pinned dev tools

lint: venv ## ruff lint + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv ## mypy (strict) on the function
	$(BIN)/mypy

template: venv ## cfn-lint and sam validate --lint
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint

build: venv ## sam build (python3.13, arm64)
	$(BIN)/sam build

test: lint typecheck template build ## Everything CI runs: lint, types, template checks, sam build, all tests
	$(BIN)/pytest

demo: venv ## The whole path offline: upload -> EventBridge -> function -> pipeline started
	$(BIN)/python -m scripts.demo_moto

clean: ## Remove build output and the venv
	rm -rf .aws-sam $(VENV) .pytest_cache .mypy_cache .ruff_cache
