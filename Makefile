# podbox — Kubernetes-style pods on one Linux host.
# `make help` lists the targets; `sudo make test` is what CI runs.

GO        ?= go
BIN       := bin
GOFLAGS   ?= -buildvcs=false
export GOFLAGS
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# Debian packages the tests need; `make deps` installs the missing ones.
DEB_PKGS  := busybox-static iproute2
STATICCHECK_VERSION := v0.8.2
# Everything a test run may create is named after this prefix.
TEST_PREFIX := podbox-t

.PHONY: all build image demo test unit root-test e2e bench lint deps clean clean-test help

all: build

## build: bin/podbox (cgo, libcontainer) and bin/pause (static, no cgo)
build: $(BIN)/podbox $(BIN)/pause

GO_SOURCES := $(shell find . -name '*.go' -not -path './bin/*' 2>/dev/null) go.mod go.sum

# On amd64 the pause starts at its assembly entry and never runs the Go runtime
# (see pause/pause.go); -tags purego in GOFLAGS builds the pure-Go pause instead.
$(BIN)/pause: $(GO_SOURCES) $(wildcard pause/*.s)
	@mkdir -p $(BIN)
	entry=; if [ "$$($(GO) env GOARCH)" = amd64 ] && ! $(GO) env GOFLAGS | grep -q purego; then \
		entry=-E=github.com/podbox/podbox/pause.asmentry; fi; \
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $$entry -X github.com/podbox/podbox/pause.Version=$(VERSION)" -o $@ ./cmd/pause

$(BIN)/podbox: $(GO_SOURCES)
	@mkdir -p $(BIN)
	@if [ -d cmd/podbox ]; then \
		CGO_ENABLED=1 $(GO) build -trimpath -ldflags '-X main.version=$(VERSION)' -o $@ ./cmd/podbox; \
	else echo "cmd/podbox: not yet written, skipping"; fi

## image: the reproducible busybox image for tests and the demo (testdata/images/busybox.tar)
image: testdata/images/busybox.tar

testdata/images/busybox.tar: hack/busybox-image.sh
	@$(MAKE) -s deps
	./hack/busybox-image.sh $@

## demo: build podbox, run the two-container web pod, fetch its page, show it, remove it (as root)
demo: build testdata/images/busybox.tar
	./hack/demo.sh

## test: everything the README promises: lint, unit, root integration and end-to-end tests (as root)
test: deps build vet root-test e2e
	@echo "make test: all tiers passed"

## unit: tests that need neither root nor the kernel objects (go test -short)
unit:
	$(GO) test -short -count=1 -skip '^Example' ./...

## root-test: unit and root integration tests; root tests fail (not skip) here
root-test: deps $(BIN)/pause
	@if [ "$$(id -u)" != 0 ]; then echo "root-test: run as root (sudo make root-test)"; exit 1; fi
	PODBOX_TEST_ROOT=1 PODBOX_BIN_DIR=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 30m $$($(GO) list ./... | grep -v /e2e)
	@./hack/leakcheck-gate $(TEST_PREFIX)

## e2e: end-to-end tests that drive the built binaries as a user would
e2e: deps build testdata/images/busybox.tar
	@if [ -d e2e ]; then \
		PODBOX_TEST_ROOT=1 PODBOX_BIN_DIR=$(CURDIR)/$(BIN) PODBOX_BUSYBOX_TAR=$(CURDIR)/testdata/images/busybox.tar \
			$(GO) test -count=1 -timeout 30m ./e2e/... && ./hack/leakcheck-gate $(TEST_PREFIX); \
	else echo "e2e: no end-to-end tests yet"; fi

## bench: figures under bench/ (never pass/fail); see docs/benchmarks.md
bench: build
	@for s in bench/*.sh; do echo "== $$s"; bash $$s || exit 1; done

## vet: gofmt and go vet (part of test)
vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOARCH=arm64 CGO_ENABLED=0 $(GO) vet ./pause/... ./cmd/pause/... && GOARCH=arm64 CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/pause

## lint: vet plus staticcheck (fetched from the Go module proxy)
lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

## deps: install the Debian packages the tests need, when missing (idempotent)
deps:
	@missing=""; for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

## clean: remove build outputs
clean:
	rm -rf $(BIN) bench/out testdata/images/busybox.tar

## clean-test: remove debris of a crashed test run (cgroups, mounts, links, processes named $(TEST_PREFIX)*)
clean-test:
	./hack/clean-test $(TEST_PREFIX)

## help: list the targets
help:
	@grep -hE '^## ' $(MAKEFILE_LIST) | sed -e 's/^## /  /'
