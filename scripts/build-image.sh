#!/usr/bin/env bash
# Builds the restate-server image without any image registry: static Go binaries plus files
# taken from Debian packages (busybox-static for a shell and wget, ca-certificates), assembled
# into a root file system and imported FROM scratch. Also builds, with the same recipe, the
# local S3 server image (versitygw) that docker-compose.offline.yaml uses in place of MinIO,
# and with --test-services the sdk-go service image the compose test registers.
#
#   scripts/build-image.sh [--tag TAG] [--s3-tag TAG] [--test-services TAG] [--no-s3]
#
# Needs: go, docker, and apt-get (to download the two Debian packages; nothing is installed).
set -euo pipefail
cd "$(dirname "$0")/.."

tag="restatego/restate:latest"
s3_tag="restatego/s3-local:latest"
svc_tag=""
build_s3=1
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag="$2"; shift 2 ;;
    --s3-tag) s3_tag="$2"; shift 2 ;;
    --test-services) svc_tag="$2"; shift 2 ;;
    --no-s3) build_s3=0; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
debs=".tools/debs"
mkdir -p "$debs"

# fetch_deb PACKAGE: downloads the package once into .tools/debs and prints its path.
fetch_deb() {
  local f
  f="$(ls "$debs"/"$1"_*.deb 2>/dev/null | head -n1 || true)"
  if [ -z "$f" ]; then
    (cd "$debs" && apt-get download "$1" >/dev/null 2>&1) || {
      echo "cannot download the Debian package $1 (apt-get download)" >&2; exit 1; }
    f="$(ls "$debs"/"$1"_*.deb | head -n1)"
  fi
  echo "$f"
}

# base_rootfs DIR: busybox (sh, wget and the usual tools), CA certificates, a non-root user.
base_rootfs() {
  local root="$1" x="$work/extract"
  rm -rf "$x" && mkdir -p "$x" "$root/bin" "$root/etc/ssl/certs" "$root/tmp" "$root/usr/local/bin"
  dpkg-deb -x "$(fetch_deb busybox-static)" "$x"
  cp "$x/bin/busybox" "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  rm -rf "$x" && mkdir -p "$x"
  dpkg-deb -x "$(fetch_deb ca-certificates)" "$x"
  find "$x/usr/share/ca-certificates" -name '*.crt' -print0 | sort -z | xargs -0 cat > "$root/etc/ssl/certs/ca-certificates.crt"
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nrestate:x:1000:1000:restate:/restate-data:/bin/sh\n' > "$root/etc/passwd"
  printf 'root:x:0:\nrestate:x:1000:\n' > "$root/etc/group"
}

gobuild() { # gobuild OUT PACKAGE
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$1" "$2"
}

# --- restate-server image ---
ctx="$work/server"
base_rootfs "$ctx/rootfs"
gobuild "$ctx/rootfs/usr/local/bin/restate-server" ./cmd/restate-server
gobuild "$ctx/rootfs/usr/local/bin/restatectl" ./cmd/restatectl
mkdir -p "$ctx/restate-data"
cat > "$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY rootfs/ /
COPY --chown=1000:1000 restate-data /restate-data
ENV PATH=/usr/local/bin:/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
WORKDIR /
USER 1000:1000
EXPOSE 8080 9070 5122
VOLUME /restate-data
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s CMD ["wget", "-q", "--spider", "http://127.0.0.1:9070/health"]
ENTRYPOINT ["/usr/local/bin/restate-server"]
EOF
docker build -q -t "$tag" "$ctx" >/dev/null
echo "built $tag"

# --- local S3 server image (versitygw), standing in for MinIO where no registry is reachable ---
if [ "$build_s3" = 1 ]; then
  ctx="$work/s3"
  base_rootfs "$ctx/rootfs"
  scripts/versitygw.sh >/dev/null # static, built once into .tools/
  cp .tools/versitygw "$ctx/rootfs/usr/local/bin/versitygw"
  mkdir -p "$ctx/data"
  cat > "$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY rootfs/ /
COPY --chown=1000:1000 data /data
ENV PATH=/usr/local/bin:/bin
USER 1000:1000
EXPOSE 9000
VOLUME /data
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["mkdir -p /data/restate && exec versitygw --port :9000 posix /data"]
EOF
  docker build -q -t "$s3_tag" "$ctx" >/dev/null
  echo "built $s3_tag"
fi

# --- sdk-go bench services (for the compose test and for trying the cluster) ---
if [ -n "$svc_tag" ]; then
  ctx="$work/svc"
  base_rootfs "$ctx/rootfs"
  gobuild "$ctx/rootfs/usr/local/bin/restate-bench" ./cmd/restate-bench
  cat > "$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/bin
USER 1000:1000
EXPOSE 9080
ENTRYPOINT ["/usr/local/bin/restate-bench", "-serve", "-service-addr", "0.0.0.0:9080"]
EOF
  docker build -q -t "$svc_tag" "$ctx" >/dev/null
  echo "built $svc_tag"
fi
