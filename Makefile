# podbox — Kubernetes-style pods on one Linux host.
# `make help` lists the targets; `sudo make test` is what CI runs.

GO        ?= go
BIN       := bin
GOFLAGS   ?= -buildvcs=false
export GOFLAGS
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# Debian packages the build and the tests need; `make deps` installs the missing ones
# (curl and jq: the README's walkthrough, which an e2e test runs; docker-registry
# and htpasswd for the pull tests: the registry service the package enables is
# stopped, the tests start their own on loopback).
DEB_PKGS  := busybox-static iproute2 libseccomp-dev curl jq docker-registry apache2-utils e2fsprogs
# Build tags of podbox and of every test binary that starts containers:
# seccomp links libcontainer's seccomp support (libseccomp, through cgo).
TAGS      := seccomp
STATICCHECK_VERSION := v0.8.2
# Everything a test run may create is named after this prefix.
TEST_PREFIX := podbox-t

.PHONY: all build image demo test test-v2 unit root-test e2e critest kubelet-demo bench lint deps clean clean-test help

all: build

## build: bin/podbox (cgo, libcontainer), bin/podbox-monitor (each pod's lifecycle), bin/podbox-shim (what stays with each pod) and bin/pause (static, no cgo)
build: $(BIN)/podbox $(BIN)/podbox-monitor $(BIN)/podbox-shim $(BIN)/pause

GO_SOURCES := $(shell find . -name '*.go' -not -path './bin/*' 2>/dev/null) go.mod go.sum

# bin/.version changes whenever the version and commit stamped into the
# binaries do (a commit that touches no source included), so that they are
# rebuilt then and `podbox version` never names an older commit.
STAMP := $(BIN)/.version
$(shell mkdir -p $(BIN); v='$(VERSION) $(COMMIT)'; [ "$$(cat $(STAMP) 2>/dev/null)" = "$$v" ] || echo "$$v" >$(STAMP))

# On amd64 the pause starts at its assembly entry and never runs the Go runtime
# (see pause/pause.go); -tags purego in GOFLAGS builds the pure-Go pause instead.
$(BIN)/pause: $(GO_SOURCES) $(STAMP) $(wildcard pause/*.s)
	@mkdir -p $(BIN)
	entry=; if [ "$$($(GO) env GOARCH)" = amd64 ] && ! $(GO) env GOFLAGS | grep -q purego; then \
		entry=-E=github.com/podbox/podbox/pause.asmentry; fi; \
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $$entry -X github.com/podbox/podbox/pause.Version=$(VERSION)" -o $@ ./cmd/pause

# What stays with each pod: static, no cgo, nothing of libcontainer.
$(BIN)/podbox-shim: $(GO_SOURCES) $(STAMP)
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $@ ./cmd/podbox-shim

# The pods' lifecycle: the sandbox library alone, nothing of the CLI.
$(BIN)/podbox-monitor: $(GO_SOURCES) $(STAMP)
	@$(MAKE) -s deps
	@mkdir -p $(BIN)
	CGO_ENABLED=1 $(GO) build -tags $(TAGS) -trimpath -ldflags "-s -w" -o $@ ./cmd/podbox-monitor

$(BIN)/podbox: $(GO_SOURCES) $(STAMP)
	@$(MAKE) -s deps
	@mkdir -p $(BIN)
	@if [ -d cmd/podbox ]; then \
		CGO_ENABLED=1 $(GO) build -tags $(TAGS) -trimpath -ldflags '-X main.version=$(VERSION) -X main.commit=$(COMMIT)' -o $@ ./cmd/podbox; \
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

## test-v2: the root and e2e tiers again, in a throwaway VM booted with pure cgroup v2 (as root; CI runs it after test)
test-v2: deps build testdata/images/busybox.tar $(BIN)/crictl
	@if [ "$$(id -u)" != 0 ]; then echo "test-v2: run as root (sudo make test-v2)"; exit 1; fi
	TEST_PREFIX=$(TEST_PREFIX) TAGS=$(TAGS) ./hack/test-v2

## unit: tests that need neither root nor the kernel objects (go test -short)
unit:
	$(GO) test -tags $(TAGS) -short -count=1 ./...

## root-test: unit and root integration tests; root tests fail (not skip) here
root-test: deps $(BIN)/pause
	@if [ "$$(id -u)" != 0 ]; then echo "root-test: run as root (sudo make root-test)"; exit 1; fi
	PODBOX_TEST_ROOT=1 PODBOX_BIN_DIR=$(CURDIR)/$(BIN) $(GO) test -tags $(TAGS) -count=1 -timeout 30m $$($(GO) list ./... | grep -v /e2e)
	@./hack/leakcheck-gate $(TEST_PREFIX)

## e2e: end-to-end tests that drive the built binaries as a user would
e2e: deps build testdata/images/busybox.tar $(BIN)/crictl
	@if [ -d e2e ]; then \
		PODBOX_TEST_ROOT=1 PODBOX_BIN_DIR=$(CURDIR)/$(BIN) PODBOX_BUSYBOX_TAR=$(CURDIR)/testdata/images/busybox.tar \
			$(GO) test -tags $(TAGS) -count=1 -timeout 30m ./e2e/... && ./hack/leakcheck-gate $(TEST_PREFIX); \
	else echo "e2e: no end-to-end tests yet"; fi

# cri-tools' crictl (the e2e tests drive podbox cri with it) and critest,
# built from the Go module proxy.
CRI_TOOLS_VERSION := v1.37.0
$(BIN)/crictl $(BIN)/critest: hack/cri-tools.sh
	@mkdir -p $(BIN)
	CRI_TOOLS_VERSION=$(CRI_TOOLS_VERSION) ./hack/cri-tools.sh $(BIN)

## critest: cri-tools' critest against podbox cri, on the offline image registry of ../shared/cri (as root; see docs/cri.md)
critest: deps build $(BIN)/crictl $(BIN)/critest
	@if [ "$$(id -u)" != 0 ]; then echo "critest: run as root (sudo make critest)"; exit 1; fi
	BIN=$(CURDIR)/$(BIN) ./hack/critest.sh

## kubelet-demo: a real kubelet (standalone) runs a two-container pod through podbox cri (as root; see docs/cri.md)
kubelet-demo: deps build $(BIN)/crictl $(BIN)/critest
	./hack/kubelet-demo.sh

## bench: figures under bench/ (never pass/fail); see docs/benchmarks.md
bench: build
	@for s in bench/*.sh; do echo "== $$s"; TAGS=$(TAGS) bash $$s || exit 1; done

## vet: gofmt and go vet (part of test)
vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags $(TAGS) ./...
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
		case "$$missing" in *docker-registry*) \
			systemctl disable --now docker-registry >/dev/null 2>&1 || true;; esac; \
	fi

## clean: remove build outputs
clean:
	rm -rf $(BIN) bench/out testdata/images/busybox.tar $(DIST)

## clean-test: remove debris of a crashed test run (cgroups, mounts, links, processes named $(TEST_PREFIX)*)
clean-test:
	./hack/clean-test $(TEST_PREFIX)

# Installing and releasing. podbox finds its pause in ../libexec/podbox from
# its own directory, so the layout under PREFIX is fixed (hack/install-tree).
.PHONY: docs install uninstall release release-deps release-check
PREFIX  ?= /usr/local
DESTDIR ?=
DIST    ?= dist
# Release tarballs; their mtimes are the last commit's time unless set.
RELEASE_ARCHES    ?= amd64 arm64
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
# Debian's C cross compilers for the release arches other than the host's,
# and libseccomp for that arch (a foreign dpkg architecture, multiarch).
CROSS_DEB_amd64 := gcc-x86-64-linux-gnu libc6-dev-amd64-cross libseccomp-dev:amd64
CROSS_DEB_arm64 := gcc-aarch64-linux-gnu libc6-dev-arm64-cross libseccomp-dev:arm64
HOST_ARCH := $(shell $(GO) env GOHOSTARCH 2>/dev/null)

## docs: the man page, shell completions and license files make install puts beside the binaries (bin/docs)
docs: $(BIN)/docs/podbox.8

$(BIN)/docs/podbox.8: $(BIN)/podbox $(BIN)/pause LICENSE NOTICE hack/docs hack/third-party-licenses
	./hack/docs $(BIN)/docs $(BIN)/podbox $(BIN)/podbox $(BIN)/pause

## install: podbox in $(PREFIX)/bin, pause, podbox-monitor and podbox-shim in $(PREFIX)/libexec/podbox, man page, completions (DESTDIR honoured)
install: build docs
	./hack/install-tree "$(DESTDIR)$(PREFIX)" $(BIN)/podbox $(BIN)/pause $(BIN)/docs $(BIN)/podbox-monitor $(BIN)/podbox-shim

## uninstall: remove what make install put under $(DESTDIR)$(PREFIX)
uninstall:
	./hack/install-tree --uninstall "$(DESTDIR)$(PREFIX)"

## release: $(DIST)/podbox-<version>-linux-{amd64,arm64}.tar.gz (static binaries) and SHA256SUMS, reproducible
release: release-deps
	VERSION=$(VERSION) COMMIT=$(COMMIT) SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) GO=$(GO) \
		DIST=$(DIST) ARCHES="$(RELEASE_ARCHES)" ./hack/release

## release-deps: install the C cross compilers the release needs, when missing (idempotent)
release-deps:
	@for a in $(filter-out $(HOST_ARCH),$(RELEASE_ARCHES)); do \
		dpkg --print-foreign-architectures | grep -qx $$a || dpkg --add-architecture $$a; \
	done
	@$(MAKE) -s deps DEB_PKGS="$(foreach a,$(filter-out $(HOST_ARCH),$(RELEASE_ARCHES)),$(CROSS_DEB_$(a)))"

## release-check: make release twice from HEAD, in two clones, and compare the SHA256SUMS
release-check: release-deps
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	for c in a b; do \
		git clone -q --shared . "$$tmp/$$c" && $(MAKE) -s -C "$$tmp/$$c" release DIST=dist >/dev/null || exit 1; \
	done; \
	if cmp -s "$$tmp/a/dist/SHA256SUMS" "$$tmp/b/dist/SHA256SUMS"; then \
		echo "release-check: two builds of $$(git rev-parse --short HEAD) are identical:"; cat "$$tmp/a/dist/SHA256SUMS"; \
	else \
		echo "release-check: two builds of the same commit differ:"; diff "$$tmp/a/dist/SHA256SUMS" "$$tmp/b/dist/SHA256SUMS"; exit 1; \
	fi

## help: list the targets
help:
	@grep -hE '^## ' $(MAKEFILE_LIST) | sed -e 's/^## /  /'
