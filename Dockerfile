# The restate-go image, for machines whose Docker reaches an image registry:
#   docker build -t restatego/restate:latest .
# Without a registry, scripts/build-image.sh builds the same image FROM scratch.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/restate-server ./cmd/restate-server && \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/restatectl ./cmd/restatectl

FROM debian:bookworm-slim AS certs
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*

# busybox: a shell and wget for healthchecks and debugging, nothing else.
FROM busybox:1.36-musl
COPY --from=certs /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/restate-server /out/restatectl /usr/local/bin/
RUN adduser -D -u 1000 -h /restate-data restate && chown 1000:1000 /restate-data
ENV PATH=/usr/local/bin:/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
WORKDIR /
USER 1000:1000
EXPOSE 8080 9070 5122
VOLUME /restate-data
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s CMD ["wget", "-q", "--spider", "http://127.0.0.1:9070/health"]
ENTRYPOINT ["/usr/local/bin/restate-server"]
