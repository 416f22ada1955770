# baldur-go: make help lists the targets; every target has a "## " line.
GO      ?= go
PKGS    := ./...
FUZZTIME ?= 5s
# Every Go module of the repository: the library, the benchmarks, the
# pinned development tools, the Redis stores and the browser tests.
MODULES := . bench tools redisstore e2e
# staticcheck is a tool of the tools module (tools/go.mod), so the library's
# go.mod gains no dependency; go builds it from the module proxy on first use.
STATICCHECK := $(GO) tool -modfile=$(CURDIR)/tools/go.mod staticcheck

.PHONY: help demo demo-fleet test vet race allocs examples bench-build bench bench-full fuzz lint tidy-check staticcheck help-check redis-test browser-test console-screenshots

help: ## list targets
	@awk 'BEGIN{FS=":.*## "} /^[a-z-]+:.*## /{printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

help-check: ## fail when a target has no description, which would hide it from make help
	@missing=$$(awk -F: '/^[a-z][a-z-]*:/ && !/## / {print $$1}' $(MAKEFILE_LIST)); \
	if [ -n "$$missing" ]; then echo "targets without a ## description:"; echo "$$missing"; exit 1; fi

demo: ## run the quickstart: a guarded server driven through normal, emergency, kill-switch and recovery phases
	$(GO) run ./examples/quickstart

demo-fleet: ## three quickstart replicas over one redis-server: fleet-wide kill switch and quota, Redis killed and back (not part of test)
	cd redisstore && $(GO) run ./cmd/demofleet

test: vet race allocs examples bench-build redis-test browser-test ## vet, race tests, allocation tests, build and run the examples, the bench module's tests, the Redis suite, the browser tests (what CI runs)

vet: ## go vet the library
	$(GO) vet $(PKGS)

race: ## race-enabled tests of the library
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

# The race detector's sync.Pool drops items at random, so a test that
# counts the allocations of a pooled path runs here, without it.
allocs: ## the library's allocation tests without the race detector
	$(GO) test -count=1 -run 'Alloc' $(PKGS)

examples: ## build every example and run the gRPC server and HTTP client ones
	$(GO) build -o /dev/null ./examples/...
	$(GO) run ./examples/grpcserver
	$(GO) run ./examples/httpclient

redis-test: ## race tests of the redisstore module against real redis-server processes (fails when redis-server is missing)
	cd redisstore && BALDUR_REQUIRE_REDIS=1 $(GO) test -race -count=1 -timeout 10m ./...

browser-test: ## the console in a real headless Chromium (e2e module; fails when chromium is missing)
	cd e2e && BALDUR_REQUIRE_BROWSER=1 $(GO) test -count=1 -timeout 5m ./...

console-screenshots: ## regenerate docs/console/*.png, one per console view, from the browser test
	cd e2e && BALDUR_REQUIRE_BROWSER=1 BALDUR_SCREENSHOT_DIR=$(CURDIR)/docs/console $(GO) test -count=1 -run '^TestConsoleScreenshots$$' ./...

bench-build: ## vet the bench module and run its tests (the route allocation tests among them), no benchmarks
	cd bench && $(GO) vet ./... && $(GO) test -count=1 ./...

bench: ## quick benchmark set (5-6 min on 2 cores), regenerates bench/RESULTS.md
	cd bench && ./run.sh quick

bench-full: ## every benchmark, load and overload experiment
	cd bench && ./run.sh full

fuzz: ## run every fuzz target for FUZZTIME (default 5s) each
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

lint: help-check tidy-check staticcheck ## gofmt, vet, tidy and staticcheck over every module, and every target described
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	cd bench && $(GO) vet ./...
	cd redisstore && $(GO) vet ./...
	cd e2e && $(GO) vet ./...

tidy-check: ## fail when go mod tidy would change go.mod or go.sum of any module
	@for m in $(MODULES); do \
	  echo "== tidy $$m"; \
	  (cd $$m && $(GO) mod tidy -diff) || { echo "$$m: run go mod tidy"; exit 1; }; \
	done

staticcheck: ## staticcheck (pinned in tools/go.mod) over the library, the bench, the redisstore and the e2e modules
	$(STATICCHECK) ./...
	cd bench && $(STATICCHECK) ./...
	cd redisstore && $(STATICCHECK) ./...
	cd e2e && $(STATICCHECK) ./...
