package tracing

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// jsonExporter writes each export batch to its own file "trace-<unix µs>.json" in a directory,
// in the Jaeger JSON format that Jaeger's UI uploads ("Upload JSON"), like Restate's
// tracing-json-path: {"data":[{"traceID":…,"spans":[…],"processes":{…}}]}.
type jsonExporter struct {
	dir string

	mu   sync.Mutex
	last int64 // last file timestamp, so two batches in one µs get distinct files
}

func newJSONExporter(dir string) (*jsonExporter, error) {
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	return &jsonExporter{dir: dir}, nil
}

type jaegerTag struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

type jaegerRef struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

type jaegerLog struct {
	Timestamp int64       `json:"timestamp"`
	Fields    []jaegerTag `json:"fields"`
}

type jaegerSpan struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	OperationName string      `json:"operationName"`
	References    []jaegerRef `json:"references"`
	StartTime     int64       `json:"startTime"` // µs since the epoch
	Duration      int64       `json:"duration"`  // µs
	Tags          []jaegerTag `json:"tags"`
	Logs          []jaegerLog `json:"logs"`
	ProcessID     string      `json:"processID"`
}

type jaegerProcess struct {
	ServiceName string      `json:"serviceName"`
	Tags        []jaegerTag `json:"tags"`
}

type jaegerTrace struct {
	TraceID   string                   `json:"traceID"`
	Spans     []jaegerSpan             `json:"spans"`
	Processes map[string]jaegerProcess `json:"processes"`
}

func tagOf(kv attribute.KeyValue) jaegerTag {
	t := jaegerTag{Key: string(kv.Key), Value: kv.Value.AsInterface()}
	switch kv.Value.Type() {
	case attribute.BOOL:
		t.Type = "bool"
	case attribute.INT64:
		t.Type = "int64"
	case attribute.FLOAT64:
		t.Type = "float64"
	default:
		t.Type, t.Value = "string", kv.Value.Emit()
	}
	return t
}

func tagsOf(kvs []attribute.KeyValue) []jaegerTag {
	out := make([]jaegerTag, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, tagOf(kv))
	}
	return out
}

func (e *jsonExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	traces := map[trace.TraceID]*jaegerTrace{}
	var order []trace.TraceID
	for _, s := range spans {
		tid := s.SpanContext().TraceID()
		tr := traces[tid]
		if tr == nil {
			svc := "Restate"
			var ptags []jaegerTag
			if r := s.Resource(); r != nil {
				for _, kv := range r.Attributes() {
					if kv.Key == "service.name" {
						svc = kv.Value.Emit()
						continue
					}
					ptags = append(ptags, tagOf(kv))
				}
			}
			tr = &jaegerTrace{TraceID: tid.String(), Processes: map[string]jaegerProcess{"p1": {ServiceName: svc, Tags: ptags}}}
			traces[tid] = tr
			order = append(order, tid)
		}
		js := jaegerSpan{
			TraceID:       tid.String(),
			SpanID:        s.SpanContext().SpanID().String(),
			OperationName: s.Name(),
			References:    []jaegerRef{},
			StartTime:     s.StartTime().UnixMicro(),
			Duration:      s.EndTime().Sub(s.StartTime()).Microseconds(),
			Tags:          tagsOf(s.Attributes()),
			Logs:          []jaegerLog{},
			ProcessID:     "p1",
		}
		if p := s.Parent(); p.IsValid() {
			js.References = append(js.References, jaegerRef{RefType: "CHILD_OF", TraceID: p.TraceID().String(), SpanID: p.SpanID().String()})
		}
		js.Tags = append(js.Tags, jaegerTag{Key: "otel.scope.name", Type: "string", Value: s.InstrumentationScope().Name})
		if st := s.Status(); st.Code.String() == "Error" {
			js.Tags = append(js.Tags, jaegerTag{Key: "error", Type: "bool", Value: true})
		}
		for _, ev := range s.Events() {
			fields := append([]jaegerTag{{Key: "event", Type: "string", Value: ev.Name}}, tagsOf(ev.Attributes)...)
			js.Logs = append(js.Logs, jaegerLog{Timestamp: ev.Time.UnixMicro(), Fields: fields})
		}
		tr.Spans = append(tr.Spans, js)
	}
	doc := struct {
		Data []*jaegerTrace `json:"data"`
	}{}
	for _, tid := range order {
		doc.Data = append(doc.Data, traces[tid])
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	e.mu.Lock()
	ts := time.Now().UnixMicro()
	if ts <= e.last {
		ts = e.last + 1
	}
	e.last = ts
	e.mu.Unlock()
	name := filepath.Join(e.dir, fmt.Sprintf("trace-%d.json", ts))
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing spans to %s: %w", name, err)
	}
	return os.Rename(tmp, name)
}

func (e *jsonExporter) Shutdown(context.Context) error { return nil }
