# Entry points for people and CI. Every target installs what it needs first.
#   make demo      - start a registry and walk the reference workflow (build, run, commit, push, pull)
#   make test      - typecheck, lint, format check, unit + integration tests, privileged tests (as root)
#   make bench     - benchmarks side by side with the peer tools; writes bench/results.md
#   make install   - put every command on PATH: links in $(DESTDIR)$(PREFIX)/bin to the built
#                    dist/bin/*.js (PREFIX defaults to /usr/local; builds first if dist/ is empty)
#   make uninstall - remove exactly those links
.PHONY: deps deps-demo build build-demo test demo bench clean install uninstall

PREFIX ?= /usr/local
BINDIR := $(DESTDIR)$(PREFIX)/bin
# every command: package.json's "bin" names (one source of truth for npm and make)
COMMANDS := $(shell node -p "Object.keys(require('./package.json').bin).join(' ')")

deps:
	@bash scripts/install-deps.sh test

deps-demo:
	@bash scripts/install-deps.sh demo

build: deps
	@npm run --silent build

build-demo: deps-demo
	@npm run --silent build

test: build
	npm run --silent typecheck
	npm run --silent lint
	npm run --silent format:check
	node scripts/run-tests.mjs unit integration
	@if [ "$$(id -u)" = 0 ]; then node scripts/run-tests.mjs privileged e2e; \
	 else echo "privileged and e2e tests skipped: not root (namespaces, mounts, cgroups)"; fi

demo: build-demo
	node dist/bin/tsdemo.js

bench: build
	npm run --silent bench

dist/bin/tsbuild.js:
	@npm run --silent build

install: dist/bin/tsbuild.js
	@mkdir -p "$(BINDIR)"
	@for c in $(COMMANDS); do \
	  test -x "$(CURDIR)/dist/bin/$$c.js" || { echo "dist/bin/$$c.js missing: run make build" >&2; exit 1; }; \
	  ln -sfn "$(CURDIR)/dist/bin/$$c.js" "$(BINDIR)/$$c"; \
	done
	@echo "installed $(words $(COMMANDS)) commands in $(BINDIR) (shell completion: tsdock completion bash|zsh)"

uninstall:
	@for c in $(COMMANDS); do \
	  if [ "$$(readlink "$(BINDIR)/$$c")" = "$(CURDIR)/dist/bin/$$c.js" ]; then rm -f "$(BINDIR)/$$c"; fi; \
	done
	@echo "removed the tsdock commands from $(BINDIR)"

clean:
	rm -rf dist .work
