# AI Hosting Labs. `make` (or `make help`) lists the targets.
SHELL := bash
.SHELLFLAGS := -o errexit -o nounset -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_SYSTEM ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
MODELS_DIR ?= models
RESULTS ?= results
PYTEST_ARGS ?=

##@ General

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

.PHONY: setup
setup: $(VENV)/.installed ## Create the virtualenv and install the project with all extras

$(VENV)/.installed: pyproject.toml
	scripts/setup-venv.sh $(PYTHON_SYSTEM) $(VENV)
	@touch $@

##@ Models

.PHONY: models
models: $(MODELS_DIR)/.built ## Build the model repository offline (digits fp32/int8, digits-large, minilm)

$(MODELS_DIR)/.built: $(VENV)/.installed $(wildcard model_server/builders/*.py)
	$(PY) -m model_server.builders --out $(MODELS_DIR)
	@touch $@

##@ Serve

.PHONY: serve
serve: models ## Run the model server as a local process on $(HOST):$(PORT)
	$(PY) -m model_server --host $(HOST) --port $(PORT) --model-repository $(MODELS_DIR)

.PHONY: demo
demo: models ## Main job: local server + bounded Locust load on digits and minilm, table in results/demo/
	scripts/demo.sh

##@ Test

.PHONY: test
test: models ## Run all tests (Docker tests skip without an engine unless REQUIRE_DOCKER=1)
	scripts/test.sh $(PY) $(PYTEST_ARGS)

.PHONY: lint
lint: $(VENV)/.installed ## Static checks: ruff (lint + format check) and mypy on the packages
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

.PHONY: bench-server
bench-server: models ## Benchmark: server vs raw onnxruntime vs naive baseline, batching on/off -> results/bench/server.json
	$(PY) -m loadtest.studies.bench_server --model-repository $(MODELS_DIR) --out $(RESULTS)/bench/server.json

##@ Containers

IMAGE_REPO ?= ai-hosting-labs/model-server
IMAGE_TAG ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
IMAGE ?= $(IMAGE_REPO):$(IMAGE_TAG)
BASE_IMAGE_LOCAL ?= ai-hosting-labs/python-base:bookworm-3.11
OFFLINE ?=
CONTAINER ?= ai-hosting-labs-server
CPUS ?= 2
MEMORY ?= 2g
REPLICAS ?= 2
LB_PORT ?= 8080
COMPOSE_PROJECT ?= ai-hosting-labs
DOCKER_ENV = IMAGE=$(IMAGE) OFFLINE=$(OFFLINE) OFFLINE_BASE_IMAGE=$(BASE_IMAGE_LOCAL) PYTHON=$(PY) \
	COMPOSE_PROJECT=$(COMPOSE_PROJECT) LB_PORT=$(LB_PORT) RESULTS=$(RESULTS)

.PHONY: docker-engine
docker-engine: ## Install (Debian's docker.io) and start a Docker engine when missing; idempotent
	scripts/ci-docker.sh

.PHONY: base-image
base-image: ## Offline base image: debootstrap bookworm + python3.11, trimmed, docker import (cached)
	scripts/base-image.sh $(BASE_IMAGE_LOCAL)

.PHONY: wheelhouse
wheelhouse: wheelhouse/.built ## Wheels of the runtime (and Locust) dependencies, built on the host

wheelhouse/.built: pyproject.toml $(VENV)/.installed
	scripts/wheelhouse.sh $(PY) wheelhouse

.PHONY: image
image: models ## Build the server image; offline path when OFFLINE=1 or no registry answers (says which)
	$(DOCKER_ENV) scripts/docker-image.sh $(IMAGE)

.PHONY: lint-docker
lint-docker: $(VENV)/.installed ## hadolint the Dockerfiles; validate docker-compose.yml against the Compose spec
	$(VENV)/bin/hadolint --failure-threshold warning model_server/Dockerfile docker/*/Dockerfile
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

.PHONY: run
run: image ## Run the image on 127.0.0.1:$(PORT): read-only, no capabilities, CPUS and MEMORY limits
	$(DOCKER_ENV) scripts/docker-run.sh $(CONTAINER) $(PORT) $(CPUS) $(MEMORY)

.PHONY: stop
stop: ## Stop the container started by `make run` (graceful: SIGTERM, drain)
	docker stop -t 30 $(CONTAINER)

.PHONY: logs
logs: ## Follow the logs of the container started by `make run`
	docker logs --follow $(CONTAINER)

.PHONY: compose-up
compose-up: image ## Compose: REPLICAS model-server replicas behind nginx on 127.0.0.1:$(LB_PORT), waits for health
	$(DOCKER_ENV) scripts/compose.sh up $(REPLICAS)

.PHONY: compose-down
compose-down: ## Compose: stop and remove this project's containers and network
	$(DOCKER_ENV) scripts/compose.sh down

.PHONY: compose-loadtest
compose-loadtest: compose-up ## Compose: Locust master + 2 workers (profile loadtest), web UI on 127.0.0.1:8089
	$(DOCKER_ENV) scripts/compose.sh loadtest

.PHONY: compose-scale
compose-scale: image ## Same bounded load at each count in REPLICAS (default "1 2 3"): table + PNG in results/compose-scale/
	$(DOCKER_ENV) scripts/compose-scale.sh $(if $(filter command line environment,$(origin REPLICAS)),$(REPLICAS),1 2 3)

.PHONY: rolling-restart
rolling-restart: image ## Under steady load, restart replicas one at a time with SIGTERM; fails on any failed request
	$(DOCKER_ENV) scripts/rolling-restart.sh $(REPLICAS)

.PHONY: test-docker
test-docker: models ## Only the Docker tests (REQUIRE_DOCKER=1 turns a missing engine into a failure)
	$(PY) -m pytest tests/docker $(PYTEST_ARGS)

##@ Load testing

LOAD_TARGET ?= http://$(HOST):$(PORT)
LOAD_PROFILE ?= mixed
LOAD_SHAPE ?= constant
LOAD_USERS ?= 8
LOAD_DURATION ?= 30
LOAD_TRIALS ?= 1
SLO ?= loadtest/slo.yaml
QUICK ?=
PER_REPLICA_RPS ?= 100
TARGET_RPS ?= 1000
HEADROOM ?= 0.3

.PHONY: loadtest
loadtest: ## Bounded load on a running server (LOAD_TARGET, LOAD_PROFILE, LOAD_SHAPE, LOAD_USERS, LOAD_DURATION, LOAD_TRIALS, SLO) -> results/loadtest/
	$(PY) -m loadtest run --host $(LOAD_TARGET) --profile $(LOAD_PROFILE) --shape $(LOAD_SHAPE) --users $(LOAD_USERS) --duration $(LOAD_DURATION) --trials $(LOAD_TRIALS) --slo $(SLO) --out $(RESULTS)/loadtest

.PHONY: tradeoffs
tradeoffs: models ## Optimization study (quantization, size, padding, batching, threads, graph opt): table + Pareto PNG in results/tradeoffs/ (QUICK=1: ~2 min CI subset)
	$(PY) -m loadtest tradeoffs $(if $(QUICK),--quick) --model-repository $(MODELS_DIR) --out $(RESULTS)/tradeoffs

.PHONY: size-study
size-study: ## Model size study: hidden width and magnitude pruning against accuracy, raw/gzip size and batch-1 latency in results/size-study/ (QUICK=1: widths 32, 128)
	$(PY) -m loadtest size-study $(if $(QUICK),--quick) --out $(RESULTS)/size-study

.PHONY: capacity
capacity: ## Replicas and HPA target utilization for TARGET_RPS, given PER_REPLICA_RPS measured at the SLO and HEADROOM
	$(PY) -m loadtest capacity --per-replica-rps $(PER_REPLICA_RPS) --target-rps $(TARGET_RPS) --headroom $(HEADROOM)
