package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Options are Restate's tracing settings.
type Options struct {
	// Endpoint is tracing-services-endpoint, else tracing-endpoint: http(s)://host:port sends
	// OTLP over gRPC (a collector's :4317), otlp+http(s)://host:port[/path] OTLP protobuf over
	// HTTP (:4318, path default /v1/traces). grpc:// and otlp+grpc:// are gRPC without TLS.
	Endpoint string
	// Headers go with every export request (tracing-headers), e.g. an authorization.
	Headers map[string]string
	// JSONPath is a directory; spans are also written there, a file per export batch.
	JSONPath string
	// ClusterName, NodeName and Version make up the resource, as in Restate.
	ClusterName, NodeName, Version string
	// ResourceAttributes is OTEL_RESOURCE_ATTRIBUTES ("k=v,k2=v2").
	ResourceAttributes string
}

// Enabled reports whether the options ask for any span export.
func (o Options) Enabled() bool { return o.Endpoint != "" || o.JSONPath != "" }

// Provider owns the exporters; Shutdown flushes them.
type Provider struct {
	sdk    *sdktrace.TracerProvider
	tracer *Tracer
}

// Tracer is the provider's Tracer (disabled when nothing is configured).
func (p *Provider) Tracer() *Tracer { return p.tracer }

// Shutdown exports what is buffered and stops the exporters.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil || p.sdk == nil {
		return nil
	}
	return p.sdk.Shutdown(ctx)
}

// Setup builds the exporters the options name. Without an endpoint or a JSON path it returns a
// Provider with a disabled Tracer and starts nothing.
func Setup(ctx context.Context, o Options) (*Provider, error) {
	if !o.Enabled() {
		return &Provider{tracer: &Tracer{}}, nil
	}
	var popts []sdktrace.TracerProviderOption
	if o.Endpoint != "" {
		exp, err := newOTLPExporter(ctx, o.Endpoint, o.Headers)
		if err != nil {
			return nil, err
		}
		popts = append(popts, sdktrace.WithBatcher(exp))
	}
	if o.JSONPath != "" {
		exp, err := newJSONExporter(o.JSONPath)
		if err != nil {
			return nil, err
		}
		popts = append(popts, sdktrace.WithBatcher(exp))
	}
	popts = append(popts, sdktrace.WithResource(newResource(o)))
	sdk := sdktrace.NewTracerProvider(popts...)
	return &Provider{sdk: sdk, tracer: New(sdk)}, nil
}

// newResource builds Restate's services resource: the attributes of OTEL_RESOURCE_ATTRIBUTES,
// overridden by service.name=Restate, service.namespace=Restate, service.instance.id
// cluster/node and service.version.
func newResource(o Options) *resource.Resource {
	var attrs []attribute.KeyValue
	for _, kv := range strings.Split(o.ResourceAttributes, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			continue
		}
		attrs = append(attrs, attribute.String(strings.TrimSpace(k), strings.TrimSpace(v)))
	}
	attrs = append(attrs,
		attribute.String("service.name", "Restate"),
		attribute.String("service.namespace", "Restate"),
		attribute.String("service.instance.id", o.ClusterName+"/"+o.NodeName),
		attribute.String("service.version", o.Version))
	return resource.NewSchemaless(attrs...)
}

// ParseEndpoint checks a tracing endpoint and tells which OTLP transport it selects.
func ParseEndpoint(endpoint string) (u *url.URL, grpc bool, err error) {
	u, err = url.Parse(endpoint)
	if err != nil {
		return nil, false, fmt.Errorf("invalid tracing endpoint %q: %v", endpoint, err)
	}
	if u.Host == "" {
		return nil, false, fmt.Errorf("invalid tracing endpoint %q: no host", endpoint)
	}
	tokens := strings.Split(strings.ToLower(u.Scheme), "+")
	sort.Strings(tokens)
	switch strings.Join(tokens, "+") {
	case "http", "grpc", "grpc+otlp":
		u.Scheme = "http"
		return u, true, nil
	case "https":
		return u, true, nil
	case "http+otlp", "http+otlp+proto":
		u.Scheme = "http"
		return u, false, nil
	case "https+otlp", "https+otlp+proto":
		u.Scheme = "https"
		return u, false, nil
	case "http+json+otlp", "https+json+otlp":
		return nil, false, fmt.Errorf("invalid tracing endpoint %q: OTLP/HTTP with JSON is not supported here, use otlp+http:// (protobuf)", endpoint)
	}
	return nil, false, fmt.Errorf("invalid tracing endpoint %q: the scheme must be http(s):// (OTLP/gRPC) or otlp+http(s):// (OTLP/HTTP)", endpoint)
}

func newOTLPExporter(ctx context.Context, endpoint string, headers map[string]string) (sdktrace.SpanExporter, error) {
	u, grpc, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	if grpc {
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(u.Host), otlptracegrpc.WithHeaders(headers)}
		if u.Scheme == "http" {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(u.String()), otlptracehttp.WithHeaders(headers)}
	return otlptracehttp.New(ctx, opts...)
}

var errNoDir = errors.New("not a directory")

func checkDir(path string) error {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return fmt.Errorf("tracing-json-path %s: %v", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("tracing-json-path %s: %v", path, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("tracing-json-path %s: %w", path, errNoDir)
	}
	return nil
}
