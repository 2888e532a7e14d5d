#!/usr/bin/env bash
# Runs the whole test suite: unit tests, fuzz seed corpora and the end-to-end tests that start
# real restate-server processes and sdk-go services on loopback ports, under the race
# detector. The multi-node cluster tests run last and alone: they start many processes on
# random ports and measure failover times, which other packages running beside them would
# disturb.
set -euo pipefail
cd "$(dirname "$0")/.."

# A real S3 server for the snapshot tests: versitygw, built once into .tools/ from the Go module
# proxy (the first run takes a few minutes longer for it).
if [ ! -x .tools/versitygw ] && ! command -v versitygw >/dev/null; then
  echo "building versitygw into .tools/ (once)" >&2
  mkdir -p .tools
  GOBIN="$PWD/.tools" go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi
export PATH="$PWD/.tools:$PATH"

go test -race -timeout 20m $(go list ./... | grep -v '/test/cluster$')
go test -race -timeout 20m ./test/cluster
