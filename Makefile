# CRA: thin targets over the native tools. `make demo` runs the main job, `make test` every suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo

.PHONY: help build test test-rust deps-verify bench fmt fmt-check lint demo doc clean

help: ## List targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## Build the workspace (release)
	$(CARGO) build --workspace --release

test: fmt-check lint test-rust ## Run every suite (Rust; later: C, Python, Node, WASM, Go, Ruby, conformance, header drift)
	@echo "make test: all suites passed"

test-rust: deps-verify ## Rust unit, integration and property tests
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

deps-verify: ## Python `blake3` for the independent hash check (skipped with a notice if it cannot install)
	@python3 -c 'import blake3' 2>/dev/null || python3 -m pip install --quiet blake3 || echo "note: python blake3 unavailable; the independent verifier test will skip"

bench: ## Benchmarks (criterion + percentile harness); figures in docs/performance.md
	$(CARGO) bench -p cra-core --bench resolve
	$(CARGO) bench -p cra-core --bench trace

fmt: ## Format the code
	$(CARGO) fmt --all

fmt-check: ## Fail when the code is not formatted
	$(CARGO) fmt --all -- --check

lint: ## Clippy with warnings as errors
	$(CARGO) clippy --workspace --all-targets -- -D warnings

demo: ## The main job: a scripted agent against the example atlases, trace written and verified
	$(CARGO) run --release -q -p cra-core --example demo -- --atlases examples/atlases --trace target/demo-trace.jsonl

doc: ## API docs
	$(CARGO) doc --workspace --no-deps

clean: ## Remove build outputs
	$(CARGO) clean
