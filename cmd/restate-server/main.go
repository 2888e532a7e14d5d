// Command restate-server runs one node of a Restate-compatible durable execution server.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/restatego/restate/internal/config"
	"github.com/restatego/restate/internal/logging"
	"github.com/restatego/restate/internal/server"
	"github.com/restatego/restate/internal/tracing"
)

func main() {
	os.Exit(run())
}

func run() int {
	opts, warnings, err := config.Load(os.Args[1:], os.Environ())
	if err != nil {
		fmt.Fprintf(os.Stderr, "restate-server: %v\n", err)
		return 2
	}
	switch {
	case opts.Command.Help:
		fmt.Print(config.Usage())
		return 0
	case opts.Command.Version:
		fmt.Printf("restate-server %s\n", server.Version)
		return 0
	case opts.Command.DumpConfig:
		b, err := opts.DumpTOML()
		if err != nil {
			fmt.Fprintf(os.Stderr, "restate-server: %v\n", err)
			return 1
		}
		os.Stdout.Write(b)
		return 0
	}
	filter, err := logging.ParseFilter(opts.LogFilter)
	if err != nil {
		fmt.Fprintf(os.Stderr, "restate-server: log-filter: %v\n", err)
		return 2
	}
	logger := logging.New(os.Stderr, opts.LogFormat, filter)
	slog.SetDefault(logger)
	for _, w := range warnings {
		logger.Warn(w)
	}
	tp, err := startTracing(opts)
	if err != nil {
		logger.Error("startup failed", "err", err)
		fmt.Fprintf(os.Stderr, "restate-server: %v\n", err)
		return 1
	}
	defer stopTracing(tp, logger)
	node, _, err := server.Start(opts, logger)
	if err != nil {
		logger.Error("startup failed", "err", err)
		fmt.Fprintf(os.Stderr, "restate-server: %v\n", err)
		return 1
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	code := 0
	select {
	case s := <-sig:
		logger.Info("shutting down", "signal", s.String(), "shutdown-timeout", opts.ShutdownTimeout)
	case err := <-node.Err():
		logger.Error("fatal error, shutting down", "err", err)
		code = 1
	}
	// The whole shutdown is bounded by shutdown-timeout; a second signal ends it at once.
	ctx, cancel := context.WithTimeout(context.Background(), opts.ShutdownTimeout)
	defer cancel()
	go func() {
		select {
		case s := <-sig:
			logger.Warn("second signal: exiting without waiting for the shutdown", "signal", s.String())
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := node.Shutdown(ctx); err != nil {
		logger.Error("shutdown incomplete", "err", err)
		return 1
	}
	return code
}

// startTracing installs the OpenTelemetry exporters the tracing-* keys ask for; without them the
// tracer stays disabled and costs nothing.
func startTracing(opts *config.Options) (*tracing.Provider, error) {
	headers := map[string]string{}
	for k, v := range opts.Tracing.Headers {
		headers[k] = string(v)
	}
	tp, err := tracing.Setup(context.Background(), tracing.Options{
		Endpoint:           opts.Tracing.ServicesEndpointOrDefault(),
		Headers:            headers,
		JSONPath:           opts.Tracing.JSONPath,
		ClusterName:        opts.ClusterName,
		NodeName:           opts.NodeName,
		Version:            server.Version,
		ResourceAttributes: os.Getenv("OTEL_RESOURCE_ATTRIBUTES"),
	})
	if err != nil {
		return nil, err
	}
	tracing.Install(tp.Tracer())
	return tp, nil
}

// stopTracing flushes spans still buffered; an unreachable collector delays exit by at most
// five seconds.
func stopTracing(tp *tracing.Provider, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		logger.Warn("flushing trace spans", "err", err)
	}
}
