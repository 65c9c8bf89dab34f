# Entry points for people and CI. Every target installs what it needs first.
#   make demo   - start a registry and walk the reference workflow (build, run, commit, push, pull)
#   make test   - typecheck, lint, format check, unit + integration tests, privileged tests (as root)
#   make bench  - benchmarks side by side with the peer tools; writes bench/results.md
.PHONY: deps build test demo bench clean

deps:
	@bash scripts/install-deps.sh

build: deps
	@npm run --silent build

test: build
	npm run --silent typecheck
	npm run --silent lint
	npm run --silent format:check
	node scripts/run-tests.mjs unit integration
	@if [ "$$(id -u)" = 0 ]; then node scripts/run-tests.mjs privileged e2e; \
	 else echo "privileged and e2e tests skipped: not root (namespaces, mounts, cgroups)"; fi

demo: build
	node dist/bin/tsdemo.js

bench: build
	npm run --silent bench

clean:
	rm -rf dist .work
