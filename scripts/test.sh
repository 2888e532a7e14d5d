#!/usr/bin/env bash
# Runs the whole test suite: unit tests, fuzz seed corpora and the end-to-end tests that start
# real restate-server processes and sdk-go services on loopback ports, under the race
# detector. The multi-node cluster tests run last and alone: they start many processes on
# random ports and measure failover times, which other packages running beside them would
# disturb. Then the README's commands, run as written, and the docker compose walk-through (it needs a running Docker engine and the
# compose plugin, which .ci/run installs; elsewhere it skips with the reason).
set -euo pipefail
cd "$(dirname "$0")/.."

# A real S3 server for the snapshot tests: versitygw, built once into .tools/ from the Go module
# proxy (the first run takes a few minutes longer for it).
if ! command -v versitygw >/dev/null; then
  scripts/versitygw.sh >/dev/null
fi
export PATH="$PWD/.tools:$PATH"

go test -race -timeout 20m $(go list ./... | grep -v -e '/test/cluster$' -e '/test/compose$' -e '/test/readme$')
go test -race -timeout 20m ./test/cluster
# The README's own commands and the compose walk-through use the README's fixed ports: one at a time.
go test -p 1 -timeout 20m ./test/readme ./test/compose
