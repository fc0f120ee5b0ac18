# One way to build, run and test everything. `make up` runs the gateway locally on a simulated
# fleet; `make test` runs every test. Both install what is missing (npm packages, Envoy).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 8080
CONTROLPLANE_PORT ?= 9090
PODS ?= 3
STRATEGY ?=
NODE_TEST_FLAGS ?=

WASM := build/infergate.wasm
AS_SOURCES := $(shell find assembly -name '*.ts' 2>/dev/null)
TS_SOURCES := $(shell find controlplane test scripts bench -name '*.ts' -not -path 'test/assembly/*' 2>/dev/null)

.PHONY: help deps envoy kube helm eg-translate llmd-sim prometheus chromium wasm ts build typecheck lint format unit test up status bench bench-instructions fuzz soak clean

help:
	@echo "make up     run the gateway locally on a simulated fleet (PORT=$(PORT) PODS=$(PODS) STRATEGY=DEFAULT|PREFIX_CACHE; PD=1: the seed's SGLang P/D example)"
	@echo "make status the running gateway's status view in the terminal (infergate status; CONTROLPLANE_PORT=$(CONTROLPLANE_PORT))"
	@echo "make test   run all tests (lint and typecheck included)"
	@echo "make unit   the fast loop: the filter's pure modules and the control plane's unit tests (no Envoy, no Go builds)"
	@echo "make lint   formatter and linter check (Biome); make format rewrites files in place"
	@echo "make bench  run the benchmarks (QUICK=1 for a short run; ONLY=ramp,overhead for some scenarios; CONTENDERS=infergate-prefix for some contenders)"
	@echo "make bench-instructions  instructions per request under callgrind, plain Envoy vs infergate (REQUESTS=1000; ONLY=plain/tiny,DEFAULT/tiny: those rows, printed only)"
	@echo "make fuzz   10^6 fuzzed bodies through the filter's request parser, 10^4 through Envoy (FUZZ_SEED=1)"
	@echo "make soak   SOAK_MINUTES=30 of moderate load; Envoy RSS and wasm memory over time"

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: node_modules/.installed envoy

envoy:
	@scripts/get-envoy.sh >/dev/null

# A real kube-apiserver + etcd for the Kubernetes-mode tests (built once from the Go module
# proxy into .tools/bin; incremental afterwards), and llm-d-inference-sim, the simulator we did
# not write, for the cross-check test.
kube:
	@scripts/get-kube.sh >/dev/null

llmd-sim:
	@scripts/get-llm-d-sim.sh >/dev/null

# Helm 3 for the chart tests (go install from the Go module proxy into .tools/bin; incremental).
helm:
	@scripts/get-helm.sh >/dev/null

# Envoy Gateway's own translator, run offline on the envoy-gateway/ manifests by
# test/kube/envoy-gateway.test.ts: our driver (scripts/eg-translate/main.go) built inside a copy of
# the Go module github.com/envoyproxy/gateway into .tools/bin (incremental; minutes when cold).
eg-translate:
	@scripts/get-eg-translate.sh >/dev/null

# Debian's Prometheus (the dashboard test evaluates every query through it) and Chromium (the status
# page is tested in a real headless browser). apt-get, once; nothing is downloaded at test time.
prometheus:
	@scripts/get-prometheus.sh >/dev/null

chromium:
	@scripts/get-chromium.sh >/dev/null

$(WASM): node_modules/.installed asconfig.json $(AS_SOURCES)
	npx asc assembly/index.ts --target release

wasm: $(WASM)

# The filter's pure modules compiled alone (no host imports) for unit tests.
TEST_WASM := build/test/pure.wasm
$(TEST_WASM): node_modules/.installed test/assembly/asconfig.json $(wildcard test/assembly/*.ts) $(AS_SOURCES)
	npx asc test/assembly/entry.ts --config test/assembly/asconfig.json --target test

# The same modules built as the filter is (minimal runtime: no collector work inside allocations),
# for the bench's table of the decision's phases (bench/scenarios/phases.ts).
PHASES_WASM := build/test/phases.wasm
$(PHASES_WASM): node_modules/.installed test/assembly/asconfig.json $(wildcard test/assembly/*.ts) $(AS_SOURCES)
	npx asc test/assembly/entry.ts --config test/assembly/asconfig.json --target phases

build/js/.built: node_modules/.installed scripts/build-ts.mjs $(TS_SOURCES)
	node scripts/build-ts.mjs
	@touch $@

ts: build/js/.built

build: wasm $(TEST_WASM) $(PHASES_WASM) ts

typecheck: node_modules/.installed
	npx tsc --noEmit -p tsconfig.json

# Biome: formatter + linter for the TypeScript and the AssemblyScript (biome.json says what it
# skips: three filter files whose function decorators it cannot parse).
lint: node_modules/.installed
	npx biome check --error-on-warnings .

format: node_modules/.installed
	npx biome check --write .

# Seconds, not minutes: the filter's pure modules compiled to wasm, and the control plane against
# real loopback HTTP. Nothing here needs Envoy, the Kubernetes binaries or the simulator fleet.
UNIT_TESTS = build/js/test/unit build/js/test/controlplane
unit: $(TEST_WASM) ts
	node --test --test-concurrency=2 $$(find $(UNIT_TESTS) -name '*.test.js' | sort)

test: lint typecheck deps kube helm eg-translate llmd-sim prometheus chromium build
	ENVOY_BIN=$$(scripts/get-envoy.sh) KUBE_BIN_DIR=$$(scripts/get-kube.sh) HELM_BIN=$$(scripts/get-helm.sh) EG_TRANSLATE_BIN=$$(scripts/get-eg-translate.sh) INFERGATE_REQUIRE_EG_TRANSLATE=1 PROMETHEUS_BIN=$$(scripts/get-prometheus.sh) CHROMIUM_BIN=$$(scripts/get-chromium.sh) INFERGATE_REQUIRE_LLMD_SIM=1 node --test --test-concurrency=1 $(NODE_TEST_FLAGS) $$(find build/js/test -name '*.test.js' | sort)

up: deps build
	ENVOY_BIN=$$(scripts/get-envoy.sh) node build/js/scripts/up.js --port $(PORT) --pods $(if $(PD),$(if $(filter command line environment,$(origin PODS)),$(PODS),4),$(PODS)) --controlplane-port $(CONTROLPLANE_PORT) $(if $(STRATEGY),--strategy $(STRATEGY),) $(if $(PD),--pd,)

# `infergate status`: what the control plane of `make up` (or a port-forwarded cluster's) sees.
status: ts
	@node build/js/controlplane/main.js status --url http://127.0.0.1:$(CONTROLPLANE_PORT)

# Benchmarks: wrk (bench/setup-loadgen.sh, Debian's package), the peers into .venv-bench
# (bench/setup-peers.sh, run by bench/run.ts), the upstream endpoint picker (scripts/get-epp.sh; a
# failed build is reported by the bench as that contender's error) and the kube-apiserver it reads.
bench: deps kube build
	@bench/setup-loadgen.sh >/dev/null
	@scripts/get-epp.sh >/dev/null || echo "make bench: scripts/get-epp.sh failed; the bench reports the upstream EPP as not run" >&2
	ENVOY_BIN=$$(scripts/get-envoy.sh) KUBE_BIN_DIR=$$(scripts/get-kube.sh) node build/js/bench/run.js $(if $(QUICK),--quick,) $(if $(ONLY),--only $(ONLY),) $(if $(CONTENDERS),--contenders $(CONTENDERS),)

# Instructions per request under callgrind (bench/instructions.ts): plain Envoy and infergate, one run,
# repeatable to ~1 %; results in bench/results/instructions/. KEEP=dir keeps each row's callgrind dump.
bench-instructions: deps build
	ENVOY_BIN=$$(scripts/get-envoy.sh) node build/js/bench/instructions.js $(if $(REQUESTS),--requests $(REQUESTS),) $(if $(ONLY),--only $(ONLY),) $(if $(KEEP),--keep $(KEEP),)

# The big fuzzing run (make test runs a small seeded slice of it): test/fuzz/run.ts.
FUZZ_SEED ?= 1
fuzz: deps build
	ENVOY_BIN=$$(scripts/get-envoy.sh) node build/js/test/fuzz/run.js --seed $(FUZZ_SEED)

# Long-running memory check: scripts/soak.ts; results in bench/results/soak-<timestamp>/.
SOAK_MINUTES ?= 30
soak: deps build
	ENVOY_BIN=$$(scripts/get-envoy.sh) node build/js/scripts/soak.js --minutes $(SOAK_MINUTES)

clean:
	rm -rf build
