#!/usr/bin/env bash
# Makes Docker usable for the compose test on a fresh Debian machine without an image registry:
# Docker Engine from Debian's docker.io, dockerd started when none runs, and the docker compose
# v2 plugin built from the Go module proxy (its go.mod has exclude directives, so `go install`
# refuses it; a build inside a small wrapper module works). Needs root.
set -euo pipefail

compose_version=v5.6.0

if ! command -v dockerd >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  mkdir -p /var/log
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start:" >&2; tail -20 /var/log/dockerd.log >&2; exit 1; }
fi

plugin="$HOME/.docker/cli-plugins/docker-compose"
if ! docker compose version >/dev/null 2>&1; then
  echo "building the docker compose plugin ($compose_version) from the Go module proxy" >&2
  mod="$(mktemp -d)"
  trap 'rm -rf "$mod"' EXIT
  cat > "$mod/go.mod" <<GOMOD
module composebuild

go 1.26
GOMOD
  cat > "$mod/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/docker/compose/v5/cmd"
GO
  mkdir -p "$(dirname "$plugin")"
  (cd "$mod" && go get "github.com/docker/compose/v5@$compose_version" >/dev/null 2>&1 &&
    go mod tidy >/dev/null 2>&1 && CGO_ENABLED=0 go build -trimpath -o "$plugin" github.com/docker/compose/v5/cmd)
fi
docker compose version
