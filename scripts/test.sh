#!/usr/bin/env bash
# Runs the whole test suite: unit tests, fuzz seed corpora and the end-to-end tests that start
# real restate-server processes and sdk-go services on loopback ports. Concurrency-heavy
# packages run under the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -race -timeout 20m ./...
