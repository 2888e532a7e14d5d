#!/usr/bin/env bash
# Runs the whole test suite: unit tests, fuzz seed corpora and the end-to-end tests that start
# real restate-server processes and sdk-go services on loopback ports, under the race
# detector. The multi-node cluster tests run last and alone: they start many processes on
# random ports and measure failover times, which other packages running beside them would
# disturb.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -race -timeout 20m $(go list ./... | grep -v '/test/cluster$')
go test -race -timeout 20m ./test/cluster
