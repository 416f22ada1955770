# baldur-go: make help lists the targets.
GO      ?= go
PKGS    := ./...
FUZZTIME ?= 5s

.PHONY: help demo test vet race examples bench-build bench bench-full fuzz lint

help: ## list targets
	@awk 'BEGIN{FS=":.*## "} /^[a-z-]+:.*## /{printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

demo: ## run the quickstart: a guarded server driven through normal, emergency, kill-switch and recovery phases
	$(GO) run ./examples/quickstart

test: vet race examples bench-build ## vet, race tests, build and run the examples, build the bench module (what CI runs)

vet:
	$(GO) vet $(PKGS)

race:
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

examples:
	$(GO) build -o /dev/null ./examples/...
	$(GO) run ./examples/grpcserver
	$(GO) run ./examples/httpclient

bench-build: ## compile and vet the bench module without running benchmarks
	cd bench && $(GO) vet ./... && $(GO) test -count=1 -run '^$$' ./...

bench: ## quick benchmark set (< 5 min), regenerates bench/RESULTS.md
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

lint: ## gofmt check and vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	cd bench && $(GO) vet ./...
