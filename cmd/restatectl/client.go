package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/restatego/restate/internal/clusterapi"
)

// client talks to the node port of the first node in --address that answers.
type client struct {
	addresses []string
	http      *http.Client
}

// call sends a request to the addresses in turn until one answers, decoding a JSON reply into
// out. An error names the node that refused or failed, or every node when none was reachable.
func (c *client) call(ctx context.Context, method, path string, body any, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	var failures []string
	for _, a := range c.addresses {
		req, err := http.NewRequestWithContext(ctx, method, a+path, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		if body != nil {
			req.Header.Set("content-type", "application/json")
		}
		req.Header.Set("accept", "application/json")
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%s: %w", a, ctx.Err())
			}
			failures = append(failures, fmt.Sprintf("%s: %v", a, err))
			continue
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: reading the answer: %v", a, err))
			continue
		}
		if resp.StatusCode != http.StatusOK {
			var e struct {
				Message string `json:"message"`
			}
			if json.Unmarshal(data, &e) == nil && e.Message != "" {
				return fmt.Errorf("%s (HTTP %d from %s)", e.Message, resp.StatusCode, a)
			}
			return fmt.Errorf("HTTP %d from %s: %s", resp.StatusCode, a, strings.TrimSpace(string(data)))
		}
		if raw, ok := out.(*json.RawMessage); ok {
			*raw = append((*raw)[:0], data...)
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("unexpected answer from %s: %v", a, err)
		}
		return nil
	}
	return fmt.Errorf("no node reachable (%s)", strings.Join(failures, "; "))
}

// status is the cluster as the answering node sees it, partitions in id order.
func (c *client) status(ctx context.Context) (*clusterapi.Status, error) {
	var st clusterapi.Status
	if err := c.call(ctx, http.MethodGet, "/v1/partitions", nil, &st); err != nil {
		return nil, err
	}
	sort.Slice(st.Partitions, func(i, j int) bool { return st.Partitions[i].ID < st.Partitions[j].ID })
	sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].ID < st.Nodes[j].ID })
	return &st, nil
}
