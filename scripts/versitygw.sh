#!/usr/bin/env bash
# Builds versitygw (the S3 server of the snapshot tests and of the offline compose setup) once
# into .tools/, statically, so the same binary also runs in the FROM-scratch S3 image. Prints
# its path.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .tools/versitygw ]; then
  echo "building versitygw into .tools/ (once, a few minutes)" >&2
  mkdir -p .tools
  CGO_ENABLED=0 GOBIN="$PWD/.tools" go install -trimpath -ldflags "-s -w" \
    github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi
echo "$PWD/.tools/versitygw"
