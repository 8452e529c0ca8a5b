# batchdeploy: `make` lists the targets. Variables with ?= may be overridden: make run NAME=exp1 PARAMS="k=v"
SHELL := bash
.DEFAULT_GOAL := help

VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
UV_VERSION := 0.13.8
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
DEPLOY := ./deploy.sh
NAME ?=
PARAMS ?=
PYTEST_ARGS ?=
KEEP ?= 5
JOB ?=
BENCH_ARGS ?=
# The local stack needs only the standard library: the venv's python when there is one, else $(PYTHON).
LOCAL_STACK = PYTHONPATH="$(CURDIR)" $(if $(wildcard $(PY)),$(PY),$(PYTHON)) -m batchdeploy.local

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The venv gets exactly the versions in constraints.txt (what CI tested), installed by uv.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install -q --python $(PY) -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

.PHONY: setup-python
setup-python: $(STAMP) ## .venv with the package and dev tools at the locked versions (idempotent)

.PHONY: setup
setup: setup-python ## setup-python, and the system tools the tests need (idempotent)
	@scripts/install-system-deps.sh

.PHONY: lock
lock: setup-python ## re-resolve constraints.txt from pyproject.toml (then commit it)
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev -q --no-header -o constraints.txt
	sed -i '1i # Exact versions of every dependency, tested by CI; `make setup` installs with them. Regenerate with `make lock`.' constraints.txt

.PHONY: test
test: setup ## run the whole test suite (pytest, then bats)
	$(PY) -m pytest $(PYTEST_ARGS)
	bats tests/bats

.PHONY: test-unit
test-unit: setup-python ## the unit tests alone: pure functions, no AWS, no system tools (seconds)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

.PHONY: lint
lint: setup ## shellcheck the shell, ruff the Python
	shellcheck deploy.sh scripts/*.sh bench/peers/*.sh .ci/run
	$(VENV)/bin/ruff check $(wildcard batchdeploy tests bench scripts examples)

.PHONY: info
info: ## ./deploy.sh -i: configuration, identity, versions
	$(DEPLOY) -i

.PHONY: images
images: ## ./deploy.sh -b: build and push the images
	$(DEPLOY) -b

.PHONY: update-jobs
update-jobs: ## ./deploy.sh -u: register the job definitions that changed
	$(DEPLOY) -u

.PHONY: sync-to-s3
sync-to-s3: ## ./deploy.sh --sync-to-s3: upload the experiments
	$(DEPLOY) --sync-to-s3

.PHONY: sync-from-s3
sync-from-s3: ## ./deploy.sh --sync-from-s3: download the experiments back
	$(DEPLOY) --sync-from-s3

.PHONY: results
results: ## ./deploy.sh --results [RUN_ID]: a run's outputs (RUN_ID=...), or every result
	$(DEPLOY) --results $(RUN_ID)

.PHONY: run
run: ## ./deploy.sh -r: make run NAME=exp1 PARAMS="experiment_file=s3://... k=v"
	$(if $(NAME),,$(error NAME is required: make run NAME=exp1 PARAMS="key=val ..."))
	$(DEPLOY) -r $(NAME) $(PARAMS)

.PHONY: status
status: ## ./deploy.sh --status: recent runs (every clone's, from the run records in S3)
	$(DEPLOY) --status

.PHONY: create
create: ## ./deploy.sh --create: the project's Batch resources from files
	$(DEPLOY) --create

.PHONY: delete
delete: ## ./deploy.sh --delete: tear them down
	$(DEPLOY) --delete

.PHONY: demo
demo: setup ## the example experiment end to end on the local AWS Batch (no AWS account needed)
	scripts/demo.sh

.PHONY: triage-chapter
triage-chapter: setup ## the triage chapter on one machine: PostgreSQL beside the local AWS Batch, a triage-shaped experiment
	scripts/triage-chapter.sh

.PHONY: triage-package
triage-package: setup ## the real triage (PyPI) runs a triage experiment file as a local Batch job against PostgreSQL (first build: minutes)
	scripts/triage-package.sh

.PHONY: local-up
local-up: setup ## start the local AWS Batch (moto server, registry, container engine) on 127.0.0.1; POSTGRES=1 adds PostgreSQL
	$(LOCAL_STACK) up $(if $(POSTGRES),--postgres)

.PHONY: local-down
local-down: ## stop exactly what local-up started
	$(LOCAL_STACK) down

.PHONY: local-status
local-status: ## say what of the local stack runs
	$(LOCAL_STACK) status

.PHONY: prune
prune: ## ./deploy.sh -u --prune KEEP: deregister old job definition revisions (KEEP ?= 5)
	$(DEPLOY) -u --prune $(KEEP)

.PHONY: logs
logs: ## ./deploy.sh --logs JOB --follow: a job's log lines, to its end
	$(if $(JOB),,$(error JOB is required: make logs JOB=job-id))
	$(DEPLOY) --logs $(JOB) --follow

.PHONY: cancel
cancel: ## ./deploy.sh --cancel JOB
	$(if $(JOB),,$(error JOB is required: make cancel JOB=job-id))
	$(DEPLOY) --cancel $(JOB)

.PHONY: submit
submit: ## ./deploy.sh --submit FILES: pegasus job submit files, run to their end
	$(if $(FILES),,$(error FILES is required: make submit FILES="jobs.json"))
	$(DEPLOY) --submit $(FILES)

.PHONY: pipeline
pipeline: ## ./deploy.sh --pipeline run FILE: every step submitted at once with dependsOn
	$(if $(FILE),,$(error FILE is required: make pipeline FILE=examples/pipeline/pipeline.yaml))
	$(DEPLOY) --pipeline run $(FILE)

.PHONY: functions-example
functions-example: setup ## examples/functions/fit.py: a model per learning rate as one .map on Batch (IMAGE ?= the project's)
	$(PY) examples/functions/fit.py $(IMAGE)

.PHONY: doctor
doctor: ## ./deploy.sh --doctor [JOB]: why a job (or the queue) cannot run, and the fix
	$(DEPLOY) --doctor $(JOB)

.PHONY: report
report: ## ./deploy.sh --report RUN="RUN_ID [RUN_ID ...]": an HTML report of runs, side by side
	$(if $(RUN),,$(error RUN is required: make report RUN=20261130T161200Z-3fa9c1))
	$(DEPLOY) --report $(RUN)

.PHONY: bench
bench: setup ## benchmark against aws s3 sync, s5cmd, aws batch loops and rebuilds; writes bench/RESULTS.md
	$(PY) bench/run.py $(BENCH_ARGS)

.PHONY: bench-quick
bench-quick: setup ## the benchmark scaled down (about 5 minutes; scenario 10 runs jobs on the local stack): proves it runs
	$(PY) bench/run.py --quick $(BENCH_ARGS)
