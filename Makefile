# Plexus — one clustered realtime server. `make run` starts a node, `make test` runs everything CI runs.
SHELL := /bin/bash
GO ?= go
BIN := bin/plexus
TMP ?= $(CURDIR)/tmp
# Packages whose tests start no protoactor cluster: plain -race, any report fails.
STRICT_PKGS := ./actors/... ./gateway/... ./cluster/state/... ./cluster/fsm/... ./cluster/raftnode/... ./test/racecheck/...
# Packages whose tests start protoactor clusters: -race with reports collected; racecheck fails
# on any race whose access is in our code and lists protoactor's own known races (notes §5).
CLUSTER_PKGS := ./cluster/membership/... ./cluster/placement/... ./cmd/...
PG_BIN := $(firstword $(wildcard /usr/lib/postgresql/*/bin))

.PHONY: all build run test test-unit test-cluster test-e2e vet deps postgres proto verify-proto bench fuzz cluster cluster-down clean

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
	$(GO) vet ./...

test: deps vet test-unit test-cluster test-e2e

test-unit:
	PLEXUS_REQUIRE_POSTGRES=1 $(GO) test -race -count=1 -timeout 15m $(STRICT_PKGS)

test-cluster:
	@mkdir -p $(TMP) && rm -f $(TMP)/race.*
	GORACE="exitcode=0 log_path=$(TMP)/race" $(GO) test -race -count=1 -timeout 15m $(CLUSTER_PKGS)
	$(GO) run ./test/racecheck $(TMP)/race

test-e2e: build
	PLEXUS_BIN=$(CURDIR)/$(BIN) PLEXUS_REQUIRE_POSTGRES=1 $(GO) test -tags e2e -count=1 -timeout 15m ./test/...

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
