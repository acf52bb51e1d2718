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

$(MODELS_DIR)/.built: $(VENV)/.installed $(wildcard model_server/build/*.py)
	$(PY) -m model_server.build --out $(MODELS_DIR)
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
	$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: bench-server
bench-server: models ## Benchmark: server vs raw onnxruntime vs naive baseline, batching on/off -> results/bench/server.json
	$(PY) -m model_server.bench --out $(RESULTS)/bench/server.json
