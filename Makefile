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

.PHONY: ci ci-fresh
ci: ## What CI runs (.ci/run): Docker, venv, models, images, lint, tests, e2e, with a time per phase
	bash .ci/run
ci-fresh: ## .ci/run as on a fresh machine: removes this project's images (ai-hosting-labs/*) and .venv first
	CI_FRESH=1 bash .ci/run

.PHONY: lint
lint: $(VENV)/.installed ## Static checks: ruff (lint + format check) and mypy on the packages
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Extra bench-server flags, e.g. BENCH_ARGS="--models minilm --repeats 3"
BENCH_ARGS ?=
.PHONY: bench-server
bench-server: models ## Benchmark: server vs raw onnxruntime vs naive baseline: p50, p99, ratios -> results/bench/server.json
	$(PY) -m loadtest bench-server --model-repository $(MODELS_DIR) --out $(RESULTS)/bench/server.json $(BENCH_ARGS)

# Extra bench-peers flags, e.g. PEERS_ARGS="--models minilm --peers mlserver --repeats 1"
PEERS_ARGS ?=
.PHONY: bench-peers
bench-peers: models ## Benchmark: ours vs MLServer and Triton (PyTriton), each installed on demand in .venv-peers/ -> results/bench/peers.json
	$(PY) -m loadtest bench-peers --model-repository $(MODELS_DIR) --out $(RESULTS)/bench/peers.json $(PEERS_ARGS)

# Extra cpu-breakdown flags, e.g. BREAKDOWN_ARGS="--models digits --repeats 1"
BREAKDOWN_ARGS ?=
.PHONY: cpu-breakdown
cpu-breakdown: models ## Benchmark: CPU per request by serving stage (py-spy), before/after gc.freeze() -> results/bench/cpu-breakdown.json
	$(PY) -m loadtest cpu-breakdown --model-repository $(MODELS_DIR) --out $(RESULTS)/bench/cpu-breakdown.json $(BREAKDOWN_ARGS)

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
image: models ## Build the server image (MODELS="digits minilm" baked by default, "all" for every model); offline path when OFFLINE=1 or no registry answers
	$(DOCKER_ENV) scripts/docker-image.sh $(IMAGE)

.PHONY: image-report
image-report: image ## Measure the image: layer sizes, largest folders, setuid files, start-to-ready x3 -> results/image/report.json
	$(DOCKER_ENV) scripts/docker-image-report.sh $(IMAGE) $(RESULTS)/image/report.json

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
compose-scale: image ## Same bounded load at each count in REPLICAS (default "1 2 3") in a stack of its own (yours stays as it is): table + PNG in results/compose-scale/
	$(DOCKER_ENV) scripts/compose-scale.sh $(if $(filter command line environment,$(origin REPLICAS)),$(REPLICAS),1 2 3)

.PHONY: rolling-restart
rolling-restart: image ## Under steady load, restart replicas one at a time with SIGTERM (a running stack stays up); fails on any failed request
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

SWEEP ?= batching
.PHONY: sweep
sweep: models ## Hyperparameter sweep SWEEP=batching|threads|graph: one serving knob varied, same open-loop load, 3 repeats -> results/sweep-SWEEP/
	$(PY) -m loadtest tradeoffs --only $(SWEEP) --out $(RESULTS)/sweep-$(SWEEP)

ACCURACY_MODEL ?= digits
.PHONY: accuracy
accuracy: models ## Quality through the serving path: held-out data sent to LOAD_TARGET, per version of ACCURACY_MODEL, with request time -> results/accuracy/
	$(PY) -m loadtest accuracy --host $(LOAD_TARGET) --model $(ACCURACY_MODEL) --out $(RESULTS)/accuracy/$(ACCURACY_MODEL).json

.PHONY: size-study
size-study: ## Model size study: hidden width and magnitude pruning against accuracy, raw/gzip size and batch-1 latency in results/size-study/ (QUICK=1: widths 32, 128)
	$(PY) -m loadtest size-study $(if $(QUICK),--quick) --out $(RESULTS)/size-study

.PHONY: capacity
capacity: $(VENV)/.installed ## Replicas and the HPA CPU target that settles on them for TARGET_RPS, given PER_REPLICA_RPS at the SLO and HEADROOM
	$(PY) -m loadtest capacity --per-replica-rps $(PER_REPLICA_RPS) --target-rps $(TARGET_RPS) --headroom $(HEADROOM)

HPA_FILE ?= k8s/base/hpa.yaml
HPA_LOAD ?= labs/05-autoscale/step-load.csv
HPA_CAPACITY_RPS ?= 100

.PHONY: hpa-whatif
hpa-whatif: $(VENV)/.installed ## HPA what-if: the replica timeline of HPA_FILE for HPA_LOAD at HPA_CAPACITY_RPS per replica (100% CPU) -> results/hpa-whatif/
	$(PY) -m loadtest hpa --hpa $(HPA_FILE) --capacity-rps $(HPA_CAPACITY_RPS) --load $(HPA_LOAD) --out $(RESULTS)/hpa-whatif

##@ Kubernetes

# The kind that `make kind-node-image` pins and installs in .bin/, else the one on PATH.
KIND ?= $(if $(wildcard .bin/kind),.bin/kind,kind)
KIND_CONFIG ?= k8s/kind-cluster.yaml
KIND_NODE_IMAGE ?=
# kubectl at the cluster's version (make kind-node-image builds it into .bin/), else the venv's, else PATH's.
KUBECTL ?= $(firstword $(wildcard .bin/kubectl $(VENV)/bin/kubectl) kubectl)
KIND_CLUSTER ?= ai-hosting-labs
K8S_OVERLAY ?= k8s/overlays/kind
K8S_LOAD ?= $(HPA_LOAD)
K8S_USERS ?= 288
HPA_WATCH_SECONDS ?= 300
K8S_ENV = KIND=$(KIND) KUBECTL=$(KUBECTL) KIND_CLUSTER=$(KIND_CLUSTER) KIND_CONFIG=$(KIND_CONFIG) \
	KIND_NODE_IMAGE=$(KIND_NODE_IMAGE) IMAGE=$(IMAGE) PYTHON=$(PY) RESULTS=$(RESULTS)

.PHONY: kind-node-image
kind-node-image: ## Air-gapped kind node image + .bin/kind, built offline from Go modules and Debian (cached; FORCE=1 rebuilds)
	scripts/kind-node-image.sh

.PHONY: k8s-tools cluster-up deploy k8s-loadtest hpa-watch chaos rollout cluster-down k8s-podspec k8s-check test-k8s test-kind doctor
k8s-tools: ## Check that kind, kubectl and docker are installed (says how to install the missing one)
	@$(K8S_ENV) bash -c 'source scripts/k8s-lib.sh && need kind kubectl docker'
cluster-up: ## kind cluster from KIND_CONFIG (1 control-plane + 2 workers, NodePort 30080 on 127.0.0.1) + metrics-server; waits for `kubectl top nodes`
	$(K8S_ENV) scripts/k8s-cluster.sh up
deploy: k8s-tools image ## Build the image, kind load it, apply k8s/overlays/kind with its tag, wait for the rollout
	$(K8S_ENV) scripts/k8s-deploy.sh
k8s-loadtest: ## Open loop along K8S_LOAD (the what-if tool's t,rps CSV; K8S_USERS at its peak) through the NodePort, HPA recorded until back at min -> results/k8s-loadtest/
	$(K8S_ENV) LOAD=$(K8S_LOAD) USERS=$(K8S_USERS) scripts/k8s-loadtest.sh
hpa-watch: ## Record HPA desired/current replicas, CPU % and ready pods every 5 s for HPA_WATCH_SECONDS -> results/hpa-watch.csv
	$(K8S_ENV) scripts/k8s-hpa-watch.sh $(RESULTS)/hpa-watch.csv $(HPA_WATCH_SECONDS) 5
chaos: ## Delete a model-server pod under load: failed requests and time to recover (fails on any failed request)
	$(K8S_ENV) scripts/k8s-chaos.sh
rollout: k8s-tools ## Roll digits from model version 1 to 2 (DIGITS_VERSION) under load: zero failed requests, then version 2 answers
	$(K8S_ENV) scripts/k8s-rollout.sh
cluster-down: ## Delete the kind cluster
	$(K8S_ENV) scripts/k8s-cluster.sh down
k8s-check: $(VENV)/.installed ## Offline: render every overlay, validate strictly, run the policy checks (no cluster needed)
	$(PY) -m grader.ops.doctor --manifests-only
k8s-podspec: image ## Offline: run the rendered pod spec under Docker as the kubelet would (probes, drain, grace period)
	$(PY) -m grader.ops.podspec --overlay $(K8S_OVERLAY) --image $(IMAGE)
test-k8s: models ## Only the Kubernetes tests (offline + pod spec under Docker; the live kind suite skips unless KIND_TESTS=1)
	$(PY) -m pytest tests/k8s tests/kind $(PYTEST_ARGS)
test-kind: image ## Only the live kind suite: creates the cluster when there is none and deletes it after (KEEP_CLUSTER=1 keeps it)
	KIND_TESTS=1 $(K8S_ENV) $(PY) -m pytest tests/kind $(PYTEST_ARGS)
doctor: $(VENV)/.installed ## Diagnose the classic pitfalls (tools, metrics-server, requests, images, threads, port-forward), each with its fix
	$(PY) -m grader.ops.doctor

##@ Grading

LAB ?= 00
SUBMISSIONS ?= submissions
GRADES ?= $(RESULTS)/grades
STUDENT_EDITION ?= build/student-edition
JOBS ?= 2

.PHONY: student check grade release gradescope bench-grader
student: $(VENV)/.installed ## Learners: your workspace, the student edition as a git repository, in DEST (make student DEST=~/labs-work)
	scripts/student.sh $(PY) "$(DEST)"
check: $(VENV)/.installed ## Grade this working tree for lab LAB (make check LAB=02); exit 0 PASSED, 1 NOT PASSED, 3 PARTIAL (nothing failed, some checks could not run here)
	$(PY) -m grader check $(LAB)
grade: $(VENV)/.installed ## Batch-grade SUBMISSIONS (folders, git repos, .zip, .tar.gz) for LAB -> GRADES (gradebook.csv, feedback, summary)
	$(PY) -m grader grade $(SUBMISSIONS) --lab $(LAB) --jobs $(JOBS) --out $(GRADES)
release: $(VENV)/.installed ## Student edition in STUDENT_EDITION (solution regions -> TODO lines; fails on any surviving solution line)
	$(PY) -m grader release --out $(STUDENT_EDITION)
gradescope: $(VENV)/.installed ## Student edition + one Gradescope autograder zip per lab in STUDENT_EDITION-instructor/
	$(PY) -m grader release --out $(STUDENT_EDITION) --gradescope
bench-grader: $(VENV)/.installed ## Benchmark: static grading of 100 generated submissions -> results/bench/grader.json
	$(PY) -m grader.bench --count 100 --jobs $(JOBS) --out $(RESULTS)/bench/grader.json

##@ Labs

.PHONY: lab-00 lab-01 lab-02 lab-03 lab-04 lab-05 lab-06 lab-07 e2e
lab-00: $(VENV)/.installed ## Lab 00 concepts: make doctor, then grade the quiz answers
	PYTHON=$(PY) scripts/lab.sh 00
lab-01: models ## Lab 01 serve: local server, the stdlib client, where one request's time goes; then grade
	PYTHON=$(PY) scripts/lab.sh 01
lab-02: models ## Lab 02 containerize: build, run at --cpus 1 and 2 (thread count), stop with a drain; then grade
	PYTHON=$(PY) scripts/lab.sh 02
lab-03: models ## Lab 03 Compose: scaling curve 1-3 replicas, rolling restart (QUICK=1: 2 replicas, 5 s); then grade
	PYTHON=$(PY) scripts/lab.sh 03
lab-04: models ## Lab 04 Kubernetes: render + validate, pod spec under Docker; deploy/chaos/rollout when kind runs (QUICK=1: deploy only)
	PYTHON=$(PY) scripts/lab.sh 04
lab-05: models ## Lab 05 autoscale: HPA what-if prediction; step load + predicted-vs-observed plot when kind runs
	PYTHON=$(PY) scripts/lab.sh 05
lab-06: models ## Lab 06 measure: load test against labs/06-measure/slo.yaml, 3 trials (QUICK=1: 1 short trial)
	PYTHON=$(PY) scripts/lab.sh 06
lab-07: models ## Lab 07 optimize: the trade-off study, then grade decision.md (QUICK=1: grade only; the tests run the study's CI subset)
	PYTHON=$(PY) scripts/lab.sh 07
e2e: models ## Every lab this machine can run (quick variants) + the student edition must fail; timing table
	PYTHON=$(PY) scripts/e2e.sh
