# Everything a newcomer or CI needs: `make demo` and `make test`. Each target installs what it uses.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Lambda runs python3.13; pyenv machines keep it installed but not active.
export PYENV_VERSION ?= 3.11.7:3.13.0
# The base interpreter, never a venv's own (an activated one included): the venvs below are removed and remade.
PYTHON313 := $(or $(PYTHON313),$(shell for python in python3.13 $(HOME)/.pyenv/versions/3.13*/bin/python3.13; do \
	"$$python" -c 'import sys; print(sys._base_executable)' 2>/dev/null && break; done))
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# The venv's python3.13 on PATH is what `sam build` looks for.
export PATH := $(BIN):$(PATH)
export SAM_CLI_TELEMETRY := 0
# No region here: AWS commands use samconfig.toml's, else yours (AWS_REGION, AWS_DEFAULT_REGION, profile).

.PHONY: help venv lint typecheck template build deploy deployer-policy unit test demo demo-moto invoke clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# $(call fresh-venv,DIR,PIP INSTALL ARGUMENTS): a Python 3.13 venv made anew, so a dropped pin leaves nothing behind.
define fresh-venv
	@test -n "$(PYTHON313)" || { echo "python3.13 not found: install Python 3.13 (pyenv install 3.13) and run make again."; exit 1; }
	rm -rf $(1)
	$(PYTHON313) -m venv $(1)
	$(1)/bin/python -m pip install --quiet --upgrade "pip>=25.1"
	$(1)/bin/python -m pip install --quiet $(2)
	@touch $@
endef

$(VENV)/.installed: pyproject.toml
	$(call fresh-venv,$(VENV),--group dev)

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

# The first time (no answers saved in samconfig.toml yet) `sam deploy --guided`, then `sam deploy` from samconfig.toml.
deploy: build ## Deploy to AWS with the pinned SAM CLI: make deploy [GUIDED=1] [CONFIG_ENV=name]
	@PYTHONPATH=src $(BIN)/python -m ops.deploy $(if $(GUIDED),--guided) $(if $(CONFIG_ENV),--config-env "$(CONFIG_ENV)")

# Defaults: samconfig.toml's stack name and saved answers, else the README's names.
deployer-policy: venv ## The least-privilege IAM policy for make deploy and sam delete: [STACK=] [BUCKET=] [PIPELINE=]
	@PYTHONPATH=src $(BIN)/python -m ops.deployer_policy $(if $(STACK),--stack-name "$(STACK)") $(if $(BUCKET),--bucket "$(BUCKET)") $(if $(PIPELINE),--pipeline "$(PIPELINE)")

.PHONY: bench bench-scale build-TriggerFunction build-BucketAdopterFunction

bench: build ministack-venv ## Cold start, warm cost, size, memory and upload->start of the built function vs the Powertools floor and bare boto3
	$(BIN)/python bench/run.py

# A simulation in virtual time (about a minute): the real handler on the shared AWS models, both delivery paths.
bench-scale: venv ## 10,000 uploads, direct (Lambda async) vs queued (SQS): lost, doubled, stale, TPS, cost [ARGS=--help]
	PYTHONPATH=src:. $(BIN)/python -m bench.scale $(ARGS)

# `sam build` runs this in a copy of src/ with ARTIFACTS_DIR set (TriggerFunction's Metadata: BuildMethod makefile).
# Lambda's python3.13 runtime provides boto3 and botocore (+ jmespath, urllib3, dateutil): ship only what it lacks,
# as arm64 wheels without their dependencies, so the runtime's own botocore is the one loaded.
# wrapt stays on 1.x for aws-xray-sdk: 2.x imports asyncio at import, ~10 ms of every cold start.
FUNCTION_WHEELS := aws-xray-sdk==2.15.0 wrapt==1.17.3 typing-extensions==4.16.0
FUNCTION_PLATFORM := --platform manylinux2014_aarch64 --implementation cp --python-version 3.13 --only-binary=:all:

# $(call lean-build,PACKAGES,EXTRA WHEELS): requirements.txt and the extras without their dependencies, the package,
# then unchecked-hash .pyc: the zip dates every file 1980 and /var/task is read-only, so only those are used as shipped.
define lean-build
	$(PYTHON313) -m pip install --quiet --disable-pip-version-check --no-deps $(FUNCTION_PLATFORM) \
		--target "$(ARTIFACTS_DIR)" -r requirements.txt $(2)
	cp -R $(1) "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -type d -prune -exec rm -rf {} +
	$(PYTHON313) -m compileall -q -f --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)"
endef

build-TriggerFunction:
	$(call lean-build,trigger_fn bucket_names.py,$(FUNCTION_WHEELS))

# The custom resource needs only Powertools' Logger and data classes.
build-BucketAdopterFunction:
	$(call lean-build,bucket_adopter bucket_names.py,typing-extensions==4.16.0)

# The template checks (cfn-lint, sam validate --lint, the transformed template) run inside pytest, on every core, a
# file per worker at a time; tests/local (this machine's ports and container engine) first, on one worker in turn.
test: lint typecheck build security ministack-venv ## Everything CI runs: lint, types, sam build, all tests (template checks included)
	$(BIN)/pytest -n auto --dist loadfile --no-loadscope-reorder

unit: venv ## The fast inner loop: each product's pure code and adapters (tests/*/unit), no network, seconds
	$(BIN)/pytest -q tests/*/unit

# SAM's own emulator on the built artifact when a container engine runs arm64 here, else (or with LOCAL=inprocess) the
# handler in-process; the first line (stderr) says which. ENV and LOCAL only from the command line: some shells export
# an ENV variable of their own.
EVENT ?= put-object
invoke: venv ## One event in SAM's emulator, or in-process: make invoke [EVENT=put-object] [ENV=local/env.json] [LOCAL=inprocess]
	@PYTHONPATH=src $(BIN)/python -m local.try_event "$(EVENT)" $(if $(filter command line,$(origin ENV)),--env-vars "$(ENV)") \
		$(if $(filter command line,$(origin LOCAL)),$(if $(filter inprocess,$(LOCAL)),--in-process,$(error LOCAL=$(LOCAL): only LOCAL=inprocess is known)))

demo-moto: venv ## The native path in one process on moto (no emulator): upload -> rule -> function -> pipeline
	PYTHONPATH=src $(BIN)/python -m local.demo_moto

.PHONY: engine engine-stop

# Debian as root (CI): installs and starts dockerd (no firewall changes) and arm64 emulation; a laptop's Docker is
# left alone. Then the Lambda base image SAM asks for: pulled, or a labelled stand-in built here when it cannot be.
engine: venv ## A container engine and the python3.13 arm64 Lambda image for `sam local` (only what is missing)
	$(BIN)/python -m local.container_engine start
	$(BIN)/python -m local.stand_in_image

engine-stop: venv ## Stop exactly what `make engine` started
	$(BIN)/python -m local.container_engine stop

.PHONY: ministack-venv local-up local-down

# ministack runs the function's handler on its own interpreter and pins its own botocore: a venv of its own.
MINISTACK_VENV := .venv-ministack
$(MINISTACK_VENV)/.installed: local/requirements-ministack.txt
	$(call fresh-venv,$(MINISTACK_VENV),-r local/requirements-ministack.txt)

ministack-venv: $(MINISTACK_VENV)/.installed ## Create .venv-ministack (the local AWS emulator, pinned)

demo: venv ministack-venv ## Deploy template.yaml on local emulators, upload a zip, watch the pipeline start
	PYTHONPATH=src $(BIN)/python -m local.demo

local-up: venv ministack-venv ## Start the emulators with the stack deployed and leave them running
	$(BIN)/python -m local.local_stack up

local-down: venv ## Stop what local-up started
	$(BIN)/python -m local.local_stack down

.PHONY: start

# The stack, region and profile `sam deploy` used (samconfig.toml), unless STACK=, REGION= or CONFIG_ENV= say otherwise.
STACK_OPTIONS = $(strip $(if $(STACK),--stack-name "$(STACK)") $(if $(REGION),--region "$(REGION)") $(if $(CONFIG_ENV),--config-env "$(CONFIG_ENV)"))

# Sends what the deployed function would send for that object (its routes, revisions and token); newest version by default.
start: venv ## Start pipelines on an object now: make start KEY=key [VERSION=id] [STACK=name] [REGION=r] [ARGS=--dry-run]
	$(if $(KEY),,$(error usage: make start KEY=object-key [VERSION=version-id] [STACK=stack-name] [REGION=region] [ARGS=--dry-run]))
	@PYTHONPATH=src $(BIN)/python -m ops.start --key "$(KEY)" $(if $(VERSION),--version "$(VERSION)") $(STACK_OPTIONS) $(ARGS)

.PHONY: redrive security

# Reads both dead-letter queues of the deployed stack and previews each event; nothing changes without --apply, which
# sends them back to the trigger queue (a move task for the failed-start queue, send then delete for the rule DLQ).
redrive: venv ## List dead-lettered events [STACK=name] [REGION=r]; ARGS=--apply redrives them, ARGS=--status
	@PYTHONPATH=src $(BIN)/python -m ops.redrive $(STACK_OPTIONS) $(ARGS)

.PHONY: check-alarms

# Each alarm with actions goes to ALARM and straight back, so you see its mail arrive; first it checks the topic can
# deliver (a confirmed subscription, a key CloudWatch may use). Nothing changes with ARGS=--dry-run.
check-alarms: venv ## Test that alarm mails arrive: each alarm to ALARM and back [STACK=name] [REGION=r] [ARGS=--dry-run]
	@PYTHONPATH=src $(BIN)/python -m ops.check_alarms $(STACK_OPTIONS) $(ARGS)

.PHONY: migrate

# Scan (read-only), PIPELINE=name: its plan (read-only); ARGS=--apply moves it, ARGS="--undo FILE" puts it back.
migrate: venv ## Pipelines on CloudTrail or polling; PIPELINE=name plans one; ARGS=--apply / ARGS="--undo FILE"
	@PYTHONPATH=src $(BIN)/python -m ops.migrate $(if $(PIPELINE),--pipeline "$(PIPELINE)") $(ARGS)

.PHONY: cross-account-policies

# Central artifact bucket: the bucket policy, KMS key policy statement and pipeline role statements, as JSON.
cross-account-policies: venv ## Policies for a bucket of another account: BUCKET= KEY= FUNCTION_ROLE= PIPELINE_ROLES= REGION= [KMS_KEY=]
	@PYTHONPATH=src $(BIN)/python -m ops.cross_account_policies --bucket "$(BUCKET)" --key "$(KEY)" \
		--function-role "$(FUNCTION_ROLE)" --pipeline-roles "$(PIPELINE_ROLES)" --region "$(REGION)" $(if $(KMS_KEY),--kms-key "$(KMS_KEY)")

# checkov pins many packages of its own (boto3, botocore, ...): a venv of its own, remade when the pin changes.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION):
	$(call fresh-venv,$(CHECKOV_VENV),"checkov==$(CHECKOV_VERSION)")

security: $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION) ## checkov on template.yaml; each skip and its reason: .checkov.yaml
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml

clean: ## Remove build output and the venv
	rm -rf .aws-sam $(VENV) $(MINISTACK_VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .local
