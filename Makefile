# Plexus — one clustered realtime server. `make run` starts a node, `make test` runs everything CI runs.
SHELL := /bin/bash
GO ?= go
BIN := bin/plexus
TMP ?= $(CURDIR)/tmp
# Packages whose tests start no protoactor cluster: plain -race, any report fails.
STRICT_PKGS := ./actors/... ./gateway/... ./cluster/state/... ./cluster/fsm/... ./cluster/raftnode/... ./cluster/placement/... ./test/racecheck/...
# Packages whose tests start protoactor clusters in-process. protoactor-go races in its own code
# (notes §5) and `go test -race` fails any test during which a race is reported, so these run
# without -race; the race pass over the same code paths is test-race (a -race binary driven by
# the e2e suite, reports checked by test/racecheck).
CLUSTER_PKGS := ./cluster/membership/... ./cmd/...
PG_BIN := $(firstword $(wildcard /usr/lib/postgresql/*/bin))

.PHONY: all build run test test-unit test-cluster test-e2e test-race vet deps postgres proto verify-proto bench fuzz cluster cluster-down clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/plexus

run: build
	./$(BIN) serve

# Installs what the tests need on a fresh Debian machine: PostgreSQL (for the store conformance
# suite and the Postgres chaos test). Go modules come through the module proxy.
deps: postgres
	$(GO) mod download

postgres:
	@if [ -z "$(PG_BIN)" ] && ! command -v initdb >/dev/null 2>&1; then \
		echo "installing PostgreSQL from Debian packages"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

vet:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./test/...

test: deps vet test-unit test-cluster test-e2e test-race

test-unit:
	PLEXUS_REQUIRE_POSTGRES=1 $(GO) test -race -count=1 -timeout 15m $(STRICT_PKGS)

test-cluster:
	$(GO) test -count=1 -timeout 15m $(CLUSTER_PKGS)

# The e2e spine suite against a -race build of the binary: every node writes its race reports to
# tmp/race.<pid>; racecheck fails on any report whose racing access is in our module.
test-race:
	@mkdir -p $(TMP) && rm -f $(TMP)/race.*
	$(GO) build -race -o bin/plexus-race ./cmd/plexus
	PLEXUS_BIN=$(CURDIR)/bin/plexus-race PLEXUS_RACE=1 GORACE="exitcode=0 log_path=$(TMP)/race" \
		$(GO) test -tags e2e -count=1 -timeout 15m -run 'TestE2ESpine|TestE2ERaftApps' ./test/e2e/
	$(GO) run ./test/racecheck $(TMP)/race

test-e2e: build
	PLEXUS_BIN=$(CURDIR)/$(BIN) PLEXUS_REQUIRE_POSTGRES=1 $(GO) test -tags e2e -p 1 -count=1 -timeout 15m ./test/...

proto:
	cd proto/plexus/v1 && PATH="$$PATH:$$($(GO) env GOPATH)/bin" $(GO) generate ./

verify-proto: proto
	git diff --exit-code proto/

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./gateway/codec/ ./actors/record/ ./actors/store/ ./cmd/embed/embedtest/

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseBatch -fuzztime $${FUZZTIME:-30s} ./gateway/codec/
	$(GO) test -run '^$$' -fuzz FuzzApply -fuzztime $${FUZZTIME:-30s} ./actors/record/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $${FUZZTIME:-30s} ./actors/jsonpath/

# Three local nodes on loopback sharing a throwaway PostgreSQL (deploy/local/cluster.sh).
cluster: build postgres
	deploy/local/cluster.sh up

cluster-down:
	deploy/local/cluster.sh down

clean:
	rm -rf bin tmp data
