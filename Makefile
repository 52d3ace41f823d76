# CRA: thin targets over the native tools. `make demo` runs the main job, `make test` every suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo

.PHONY: help build conformance test test-rust deps-verify bench fmt fmt-check lint demo demo-dual doc clean \
        cbindgen header check-header errors-json check-errors build-ffi build-conformance test-c test-go test-ruby \
        python-venv python-install test-python bench-python bench-peers test-ingest bench-ingest test-tlog bench-tlog \
        python-integrations-deps test-integrations bench-integrations test-dashboard bench-dashboard

help: ## List targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

conformance: build-ffi ## The shared corpus through every binding's runner (core API and C ABI here; Go, Ruby, Python, JS in their test targets)
	set -o pipefail; $(CARGO) test -p cra-conformance --test core_corpus --test cabi_corpus --test runner_can_fail --test corpus_shape -- --nocapture 2>&1 | grep -E '^(ok|FAIL|xfail|XPASS|ERROR|conformance\[|[0-9]+ passed)|test result' 

build: ## Build the workspace (release)
	$(CARGO) build --workspace --release

test: fmt-check lint test-rust check-header check-errors test-c test-go test-ruby test-node test-wasm test-python test-ingest test-integrations test-dashboard test-node-gyp test-packaging check-sizes fuzz-smoke ## Run every suite (Rust, C ABI, header and error-table drift, Go, Ruby, Node, WASM, Python, ingest service, integrations, dashboard, packaging, fuzz smoke)
	@echo "make test: all suites passed"

test-rust: deps-verify build-ffi ## Rust unit, integration and property tests (the C-ABI driver test loads the release libcra)
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc
	@# the lossless test at full size (1,000,000 events from 8 threads) needs an optimized build
	$(CARGO) test --release -p cra-core --test trace_lossless

# --- C ABI (ffi/): header, library, C tests --------------------------------------------------
CBINDGEN_VERSION := 0.29.4
CBINDGEN := $(HOME)/.cargo/bin/cbindgen
HEADER := ffi/include/cra.h
C_OUT := target/c
C_WARN := -Wall -Wextra -Werror
VALGRIND := valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1

cbindgen: ## Install the pinned cbindgen into ~/.cargo/bin when missing or another version
	@[ "$$($(CBINDGEN) --version 2>/dev/null)" = "cbindgen $(CBINDGEN_VERSION)" ] || \
		$(CARGO) install cbindgen --locked --force --version $(CBINDGEN_VERSION)

header: cbindgen ## Generate ffi/include/cra.h from ffi/src (commit the result)
	cd ffi && $(CBINDGEN) --quiet --config cbindgen.toml --crate cra-ffi --output include/cra.h

check-header: cbindgen ## Fail when the committed ffi/include/cra.h differs from a fresh generation
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	(cd ffi && $(CBINDGEN) --quiet --config cbindgen.toml --crate cra-ffi --output "$$tmp/cra.h"); \
	sed '0,/CRA_ABI_VERSION [0-9]*/s//CRA_ABI_VERSION 999/' "$$tmp/cra.h" > "$$tmp/tampered.h"; \
	if diff -q "$$tmp/cra.h" "$$tmp/tampered.h" >/dev/null; then echo "check-header: the drift check cannot fail" >&2; exit 1; fi; \
	diff -u $(HEADER) "$$tmp/cra.h" || { echo "check-header: $(HEADER) is stale; run make header and commit it" >&2; exit 1; }; \
	echo "check-header: $(HEADER) is up to date"

errors-json: ## Write conformance/errors.json from the error table in core/src/error.rs (commit the result)
	CRA_WRITE_ERRORS_JSON=1 $(CARGO) test -q -p cra-core --lib error::tests::errors_json_is_current

check-errors: ## Fail when conformance/errors.json is stale (and prove the check can fail)
	$(CARGO) test -q -p cra-core --lib error::tests::
	@echo "check-errors: conformance/errors.json is up to date"

build-ffi: ## Release build of libcra (target/release/libcra.{so,a})
	$(CARGO) build -p cra-ffi --release

# The one interpreter of the corpus (conformance/runner): every binding's suite runs it with that
# binding's driver program (docs/bindings.md).
CONFORMANCE := target/debug/cra-conformance
build-conformance: ## The corpus interpreter (target/debug/cra-conformance) the bindings' drivers are run by
	$(CARGO) build -p cra-conformance --bin cra-conformance

test-c: build-ffi ## C demo and C test driver (valgrind), exported-symbol check
	@command -v valgrind >/dev/null || apt-get install -y valgrind || { apt-get update && apt-get install -y valgrind; }
	examples/c/check-symbols.sh target/release/libcra.so
	$(CARGO) build -p cra-ffi --features testing
	@# the debug cdylib path is shared by every feature set: copy it away and check it is the testing one
	@mkdir -p $(C_OUT)/testing && cp target/debug/libcra.so $(C_OUT)/testing/libcra.so
	@nm -D --defined-only $(C_OUT)/testing/libcra.so | grep -q ' cra_testing_panic$$' || \
		{ echo "test-c: target/debug/libcra.so lacks the testing feature (overwritten by a concurrent build?)" >&2; exit 1; }
	$(CC) -std=c11 $(C_WARN) -Iffi/include examples/c/demo.c \
		-Ltarget/release -lcra -Wl,-rpath,$(CURDIR)/target/release -o $(C_OUT)/demo
	$(CC) -std=gnu11 -g $(C_WARN) -DCRA_TESTING -Iffi/include examples/c/test_cra.c \
		-L$(C_OUT)/testing -lcra -lpthread -Wl,-rpath,$(CURDIR)/$(C_OUT)/testing -o $(C_OUT)/test_cra
	$(CC) -std=c11 $(C_WARN) -Iffi/include examples/c/demo.c target/release/libcra.a -lpthread -ldl -lm -o $(C_OUT)/demo-static
	$(C_OUT)/demo examples/atlases/customer-support
	$(C_OUT)/demo-static examples/atlases/customer-support >/dev/null
	$(VALGRIND) $(C_OUT)/demo examples/atlases/customer-support >/dev/null
	$(VALGRIND) $(C_OUT)/test_cra examples/atlases/customer-support

# --- Go binding (examples/go): cgo over libcra, found through ${SRCDIR}-relative flags + rpath ---
GO ?= go

test-go: build-ffi build-conformance ## Go binding: gofmt, vet, unit + concurrency tests and the conformance corpus under -race, cra-demo
	@command -v $(GO) >/dev/null || { echo "test-go: Go is not installed (https://go.dev/dl/)" >&2; exit 1; }
	@cd examples/go && unformatted=$$(gofmt -l .) && [ -z "$$unformatted" ] || { echo "test-go: gofmt needed: $$unformatted" >&2; exit 1; }
	cd examples/go && $(GO) vet ./...
	cd examples/go && $(GO) test -race -count=1 -v ./...
	@# the corpus through the Go driver, built with the race detector
	cd examples/go && $(GO) build -race -o $(CURDIR)/target/go/cra-conformance-driver ./cmd/cra-conformance-driver
	set -o pipefail; $(CONFORMANCE) --binding go --self-test -- target/go/cra-conformance-driver | grep -v '^ok '
	cd examples/go && $(GO) run ./cmd/cra-demo ../atlases/customer-support

# --- Ruby binding (examples/ruby): the ffi gem over libcra (CRA_LIB or target/release) ---------
RUBY ?= ruby

test-ruby: build-ffi build-conformance ## Ruby binding: minitest (unit, threads, the conformance corpus), demo; installs ruby + ruby-ffi from apt when missing
	@$(RUBY) -e 'require "ffi"; require "minitest"' 2>/dev/null || { export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y ruby ruby-ffi || { apt-get update && apt-get install -y ruby ruby-ffi; }; }
	cd examples/ruby && $(RUBY) -w test/run.rb
	$(RUBY) -w -Iexamples/ruby/lib examples/ruby/examples/demo.rb examples/atlases/customer-support

# --- Python package (python/): maturin (cffi mode) wheel carrying libcra, CLI, tests, bench ----
# Everything goes into a virtualenv at .venv (made here when missing; works with CI=true and no
# stdin). `pip install ./python` runs maturin, which builds libcra in the workspace target/.
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
PY_TESTING_LIB := target/python/testing/libcra.so

python-venv: ## Virtualenv .venv with the Python build and test tools (maturin, cffi, pytest, mypy, orjson, jsonschema)
	@[ -x $(VPY) ] || $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y python3-venv || { apt-get update && apt-get install -y python3-venv; }; $(PYTHON) -m venv $(VENV); }
	@echo '*' > $(VENV)/.gitignore
	@$(VPY) -c 'import maturin, cffi, pytest, mypy, orjson, jsonschema' 2>/dev/null || \
		$(VPY) -m pip install --quiet --disable-pip-version-check "maturin>=1.5,<2" "cffi>=1.15" "pytest>=7" "mypy>=1.8" "orjson>=3.9" "jsonschema>=4.18"
	@# the server extra (cra serve, docs/ingest.md): FastAPI, uvicorn, psycopg 3, zstandard, cryptography (log signatures)
	@$(VPY) -c 'import fastapi, uvicorn, psycopg, zstandard, cryptography' 2>/dev/null || \
		$(VPY) -m pip install --quiet --disable-pip-version-check "fastapi>=0.110" "uvicorn>=0.29" "psycopg[binary]>=3.1" "zstandard>=0.22" "cryptography>=41"
	@# the transparency-log tests' independent verifier (PyNaCl: Ed25519 from libsodium) and chain rewriting (blake3)
	@$(VPY) -c 'import nacl, blake3' 2>/dev/null || \
		$(VPY) -m pip install --quiet --disable-pip-version-check "pynacl>=1.5" "blake3>=0.3"

python-install: python-venv ## pip install ./python into .venv (maturin builds libcra into the wheel)
	@# the distribution was named `cra` before it became cra-governance: drop that one first (same files)
	@! $(VPY) -m pip show --quiet cra >/dev/null 2>&1 || $(VPY) -m pip uninstall --quiet --yes cra
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VPY) -m pip install --quiet --disable-pip-version-check --no-build-isolation ./python

test-python: python-install python-integrations-deps build-conformance ## Python: pytest (API, governed tools, threads, CLI, panic, README, conformance corpus) incl. mypy --strict
	$(CARGO) build -p cra-ffi --features testing
	@# the debug cdylib path is shared by every feature set: copy it away and check it is the testing one
	@mkdir -p $(dir $(PY_TESTING_LIB)) && cp target/debug/libcra.so $(PY_TESTING_LIB)
	@nm -D --defined-only $(PY_TESTING_LIB) | grep -q ' cra_testing_panic$$' || \
		{ echo "test-python: target/debug/libcra.so lacks the testing feature (overwritten by a concurrent build?)" >&2; exit 1; }
	@# pytest exits 5 when it collects no test: that fails here like any other non-zero status
	@# python/tests/ingest runs in test-ingest (it starts servers and PostgreSQL), python/tests/integrations in
	@# test-integrations, python/tests/dashboard in test-dashboard
	CRA_TESTING_LIBRARY=$(CURDIR)/$(PY_TESTING_LIB) CRA_REQUIRE_PANIC_TEST=1 $(VENV)/bin/pytest python/tests -q -p no:cacheprovider \
		--ignore=python/tests/ingest --ignore=python/tests/integrations --ignore=python/tests/dashboard

test-ingest: python-install ## Ingest service (cra serve): SQLite and a real PostgreSQL (installed from apt when missing, started in a temp dir), real uvicorn on 127.0.0.1
	$(VENV)/bin/pytest python/tests/ingest -q -p no:cacheprovider

bench-ingest: python-install ## Ingest events/s with verification (batches of 100/1,000/10,000, SQLite and PostgreSQL, in-process and HTTP); record->queryable p50/p99 through the HTTP sink; the sink's cost on the resolving thread
	cd python/tests && $(CURDIR)/$(VPY) -m ingest.bench
	cd python/tests && $(CURDIR)/$(VPY) -m ingest.sink_bench

# The frameworks of the integration extras (cra[langchain], cra[openai-agents], cra[mcp], cra[otel]) at
# the versions the suite runs against, plus what the tests drive them with (langchain's create_agent,
# the OpenTelemetry SDK). mypy --strict in test-python reads them too.
INTEGRATION_DEPS := "langchain-core>=1.8,<2" "langgraph>=1.2,<2" "langchain>=1.5,<2" "openai-agents>=0.24,<0.25" \
	"mcp>=2.3,<3" "opentelemetry-api>=1.45,<2" "opentelemetry-sdk>=1.45,<2"

python-integrations-deps: python-venv ## The integration extras' frameworks in .venv (LangChain, LangGraph, Agents SDK, MCP, OpenTelemetry)
	@$(VPY) -c 'import langchain_core, langgraph, langchain, agents, mcp, opentelemetry.sdk' 2>/dev/null || \
		$(VPY) -m pip install --quiet --disable-pip-version-check $(INTEGRATION_DEPS)

test-integrations: python-install python-integrations-deps ## Framework integrations against the real libraries, no network, no LLM (a missing framework fails)
	CRA_REQUIRE_INTEGRATIONS=1 $(VENV)/bin/pytest python/tests/integrations -q -p no:cacheprovider

bench-integrations: python-install python-integrations-deps ## Governed vs ungoverned tool call per framework (p50/p99)
	$(VPY) -m cra.integrations.bench

# --- the audit dashboard (cra serve at /, docs/dashboard.md): API tests, then real headless Chromium ---
DASH_TESTS := python/tests/dashboard
.PHONY: dashboard-deps

dashboard-deps: python-install chromium ## blake3 (the 100,000-trace generator) and playwright-core (npm ci, pinned by the lockfile)
	@$(VPY) -c 'import blake3' 2>/dev/null || $(VPY) -m pip install --quiet --disable-pip-version-check "blake3>=0.4"
	@[ -d $(DASH_TESTS)/node_modules/playwright-core ] || (cd $(DASH_TESTS) && npm ci --no-audit --no-fund --loglevel=error)

test-dashboard: dashboard-deps ## Dashboard: API tests (SQLite, PostgreSQL), then Chromium against cra serve with 100,000 traces; screenshots in target/dashboard/
	$(VENV)/bin/pytest $(DASH_TESTS) -q -p no:cacheprovider
	cd $(DASH_TESTS) && CRA_PYTHON=$(CURDIR)/$(VPY) node --test --test-concurrency=1 --test-reporter=spec dashboard.test.mjs

bench-dashboard: dashboard-deps ## First paint of the traces list at 100,000 traces: p50/p95 per filter (target/dashboard/bench.json)
	cd $(DASH_TESTS) && CRA_PYTHON=$(CURDIR)/$(VPY) node bench.mjs

test-tlog: python-install ## Only the transparency-log tests (also part of test-ingest): tampering, proofs, concurrency, CLI
	$(VENV)/bin/pytest python/tests/ingest/test_tlog.py python/tests/ingest/test_tlog_tamper.py \
		python/tests/ingest/test_tlog_http.py python/tests/ingest/test_tlog_concurrency.py \
		python/tests/ingest/test_tlog_receipts.py -q -p no:cacheprovider

bench-tlog: python-install ## Transparency log: ingest events/s with and without it; proof sizes and times for 10^6 and 10^7 leaves
	cd python/tests && $(CURDIR)/$(VPY) -m ingest.tlog_bench

bench-python: python-install ## Python boundary percentiles (resolve, fast path) beside the Rust harness of the same run
	@mkdir -p target/bench
	$(CARGO) bench -p cra-core --bench resolve -- --quick | tee target/bench/rust-resolve.txt
	$(VPY) -m cra.bench --rust target/bench/rust-resolve.txt

# The peers in their own virtualenv (never in .venv), with the cra wheel of this tree installed
# next to them; bench/peers/peers_bench.py says which policies are equivalent and why.
PEERS_VENV := target/peers-venv
PEERS := "cedarpy==4.12.2" "agent-governance-toolkit[core]==4.1.0"

bench-peers: python-venv ## CRA vs cedarpy and the agent-governance-toolkit evaluator, one decision, same run (p50/p99, ratios vs the targets)
	@[ -x $(PEERS_VENV)/bin/python ] || $(PYTHON) -m venv $(PEERS_VENV)
	@$(PEERS_VENV)/bin/python -c 'import cedarpy, agent_os.policies.evaluator, cffi, orjson' 2>/dev/null || \
		$(PEERS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(PEERS) "cffi>=1.15" "orjson>=3.9"
	@rm -rf target/peers/wheel
	cd python && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(CURDIR)/$(VENV)/bin/maturin build --quiet --release --out $(CURDIR)/target/peers/wheel
	$(PEERS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall target/peers/wheel/cra_governance-*.whl
	$(PEERS_VENV)/bin/python -W ignore::DeprecationWarning bench/peers/peers_bench.py

deps-verify: ## Python `blake3` for the independent hash check (skipped with a notice if it cannot install)
	@python3 -c 'import blake3' 2>/dev/null || python3 -m pip install --quiet blake3 || echo "note: python blake3 unavailable; the independent verifier test will skip"

bench: ## Benchmarks (criterion + percentile harness); figures in docs/performance.md
	$(CARGO) bench -p cra-core --bench resolve
	$(CARGO) bench -p cra-core --bench trace
	$(MAKE) --no-print-directory bench-js
	$(MAKE) bench-python
	$(MAKE) bench-ingest
	$(MAKE) --no-print-directory bench-integrations
	$(MAKE) bench-dashboard
	$(MAKE) bench-tlog

fmt: ## Format the code
	$(CARGO) fmt --all

fmt-check: ## Fail when the code is not formatted
	$(CARGO) fmt --all -- --check

lint: ## Clippy with warnings as errors
	$(CARGO) clippy --workspace --all-targets -- -D warnings

demo-dual: python-install ## The dual-mode path: 3 agent processes resolve in-process, their traces reach a local cra serve through the HTTP sink, queries answer
	$(VENV)/bin/cra demo --ingest --atlases examples/atlases

demo: python-install ## The main job: a scripted agent (Python, governed tools) against the example atlases; trace written, verified, summarized
	$(VENV)/bin/cra demo --atlases examples/atlases --trace target/demo-trace.jsonl

doc: ## API docs
	$(CARGO) doc --workspace --no-deps

clean: ## Remove build outputs
	$(CARGO) clean

# --- Node (napi-rs addon) and WASM (wasm-bindgen) bindings; one JS suite for both -----------------
.PHONY: node-deps js-deps build-node build-node-testing wasm-toolchain build-wasm build-wasm-testing \
        chromium test-node test-wasm bench-js
JS_TESTS := bindings/js-tests
JS_TEST_FILES = $(wildcard $(JS_TESTS)/test/*.test.mjs)
NODE_TEST := node --test --test-concurrency=1 --test-reporter=dot

node-deps:
	@[ -x bindings/node/node_modules/.bin/napi ] || (cd bindings/node && npm ci --no-audit --no-fund --loglevel=error)

js-deps:
	@[ -d $(JS_TESTS)/node_modules/playwright-core ] || (cd $(JS_TESTS) && npm ci --no-audit --no-fund --loglevel=error)

build-node: node-deps ## Release build of the Node addon (bindings/node/cra.<platform>.node, @napi-rs/cli), stripped
	cd bindings/node && npx napi build --platform --release --no-js --dts native.d.ts
	@# symbols off (the dynamic ones Node needs stay): about 2 MB less; not through napi --strip,
	@# whose RUSTFLAGS would make every later build of the workspace start over
	strip --strip-unneeded bindings/node/cra.*.node

build-node-testing: node-deps ## The addon with the test-only panic export (bindings/node/testing/)
	cd bindings/node && npx napi build --platform --features testing --no-js --dts native.d.ts --output-dir testing

wasm-toolchain: ## wasm32 Rust target (rustup, else PyPI parts), wasm-bindgen-cli as in Cargo.lock, wasm-opt
	@mkdir -p target && scripts/wasm-toolchain.sh > target/wasm-toolchain.env

build-wasm: wasm-toolchain ## The @cra/wasm npm package in bindings/wasm/pkg (wasm-opt -Oz; prints sizes)
	set -a && . target/wasm-toolchain.env && bindings/wasm/build.sh

build-wasm-testing: wasm-toolchain ## The WASM build with the test-only panic export (bindings/wasm/pkg-testing)
	set -a && . target/wasm-toolchain.env && bindings/wasm/build.sh --testing

chromium: ## Headless Chromium for the browser test (Debian package)
	@command -v chromium >/dev/null || apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }

test-node: build-node build-node-testing js-deps build-conformance ## JS suite + conformance (test/conformance.test.mjs) against the native addon
	cd $(JS_TESTS) && CRA_JS_IMPL=native $(NODE_TEST) $(JS_TEST_FILES:$(JS_TESTS)/%=%)

test-wasm: build-wasm build-wasm-testing node-deps js-deps chromium python-install build-conformance ## JS suite + conformance against WASM, Chromium and workerd; TraceShipper against a real cra serve
	cd $(JS_TESTS) && CRA_JS_IMPL=wasm CRA_PYTHON=$(CURDIR)/$(VPY) $(NODE_TEST) $(JS_TEST_FILES:$(JS_TESTS)/%=%)

bench-js: build-node build-wasm ## resolve/execute p50/p99 from Node: native addon and WASM, beside the same run's Rust figures
	@mkdir -p target/bench
	$(CARGO) bench -p cra-core --bench resolve -- --quick | tee target/bench/rust-resolve.txt
	node $(JS_TESTS)/bench.mjs target/bench/rust-resolve.txt

# --- examples/node-gyp: a C addon over libcra (ffi/include/cra.h), built offline with node-gyp ----
.PHONY: test-node-gyp
test-node-gyp: build-ffi ## node-gyp C addon over libcra: build (--nodedir=/usr, offline) and test
	@[ -x examples/node-gyp/node_modules/.bin/node-gyp ] || (cd examples/node-gyp && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
	cd examples/node-gyp && npx node-gyp rebuild --nodedir=/usr --loglevel=warn && node --test test.js

# --- fuzz/: libFuzzer targets (cargo fuzz, nightly) for every entry point that takes bytes -------
.PHONY: fuzz-tools fuzz fuzz-smoke
FUZZ_TARGETS := request atlas trace config
FUZZ_SECONDS ?= 60
FUZZ_FLAGS = -dict=fuzz/dict/json.dict -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1

fuzz-tools: ## cargo-fuzz and a nightly toolchain (for the sanitizer flags)
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal

fuzz: fuzz-tools ## Run every fuzz target for FUZZ_SECONDS each (default 60), seeded from the conformance corpus
	@python3 fuzz/seed_corpus.py $(wildcard target/demo-trace.jsonl)
	@mkdir -p target/fuzz; for t in $(FUZZ_TARGETS); do echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
		cargo +nightly fuzz run -O $$t fuzz/corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) $(FUZZ_FLAGS) \
			> target/fuzz/$$t.log 2>&1; rc=$$?; grep -E '^(stat::(number_of_executed_units|new_units_added|peak_rss_mb)|Done)' target/fuzz/$$t.log; \
		[ $$rc = 0 ] || { tail -40 target/fuzz/$$t.log; echo "fuzz: $$t failed (exit $$rc); the input is under fuzz/artifacts/$$t/" >&2; exit 1; }; done

fuzz-smoke: ## The fuzz targets build, pass their seeds and run 10 s each (in make test)
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

# --- packaging (docs/packaging.md): the release artefacts as users install them -------------------
.PHONY: test-packaging packaging-deps actionlint firefox dist-c wheel-aarch64
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT := $(HOME)/go/bin/actionlint

packaging-deps: python-venv ## auditwheel (manylinux checks) and ziglang (maturin --zig links for glibc 2.28) in .venv
	@$(VPY) -c 'import auditwheel, ziglang' 2>/dev/null || \
		$(VPY) -m pip install --quiet --disable-pip-version-check "auditwheel>=6.1" "ziglang>=0.13"

actionlint: ## actionlint (pinned, from the Go module proxy) and shellcheck (Debian; actionlint checks run: steps with it)
	@[ "$$($(ACTIONLINT) -version 2>/dev/null | head -1)" = "$(ACTIONLINT_VERSION)" ] || \
		GOBIN=$(HOME)/go/bin $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	@command -v shellcheck >/dev/null || apt-get install -y shellcheck || { apt-get update && apt-get install -y shellcheck; }

firefox: ## Debian's firefox-esr for the browser test (driven over WebDriver BiDi)
	@command -v firefox-esr >/dev/null || apt-get install -y firefox-esr || { apt-get update && apt-get install -y firefox-esr; }

test-packaging: packaging-deps build-ffi build-node build-wasm node-deps js-deps chromium firefox actionlint ## Release artefacts: sdist → manylinux wheel (auditwheel), fresh-venv demo + README; npm pack @cra/client (Node native/WASM, Chromium, Firefox); C tarball; actionlint; one version
	@mkdir -p target/packaging && rm -f target/packaging/report.txt
	$(VENV)/bin/pytest packaging/tests -q -p no:cacheprovider
	cd packaging/tests && node --test --test-concurrency=1 --test-reporter=spec npm.test.mjs
	@echo "== test-packaging: sizes and facts (target/packaging/report.txt)"; cat target/packaging/report.txt

.PHONY: check-sizes size-nonet
check-sizes: build-ffi ## Artefact sizes beside their targets; fails over a limit (reuses built artefacts; proves it can fail)
	python3 scripts/check_sizes.py --self-test >/dev/null
	python3 scripts/check_sizes.py

size-nonet: ## libcra without the network features (a separate build in target/nonet; check-sizes then checks it)
	$(CARGO) build -p cra-ffi --release --no-default-features --target-dir target/nonet

dist-c: build-ffi ## The C library tarball (libcra shared + static, cra.h, demo, atlases) in target/packaging/dist
	scripts/package-c.sh target/packaging/dist

wheel-aarch64: packaging-deps ## Cross-build the aarch64 manylinux_2_28 wheel here (rustup target + maturin --zig; slow: a full build)
	rustup target add aarch64-unknown-linux-gnu
	cd python && CARGO_TARGET_DIR=$(CURDIR)/target/manylinux PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(CURDIR)/$(VENV)/bin/maturin build --release --zig \
		--target aarch64-unknown-linux-gnu --compatibility manylinux_2_28 --out $(CURDIR)/target/packaging/dist
	$(VPY) packaging/check_wheel.py target/packaging/dist/cra_governance-*-manylinux_2_28_aarch64.whl
