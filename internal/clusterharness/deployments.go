package clusterharness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// RegisterDeployment registers the service endpoint at uri through via's admin API. It
// retries unavailability (a cluster still settling answers 503) until timeout.
func (c *Cluster) RegisterDeployment(via *Node, uri string, timeout time.Duration) error {
	body, _ := json.Marshal(map[string]any{"uri": uri})
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, via.AdminURL()+"/deployments", bytes.NewReader(body))
		req.Header.Set("content-type", "application/json")
		resp, err := c.client.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK:
				cancel()
				return nil
			case resp.StatusCode >= 500:
				err = fmt.Errorf("%d %s", resp.StatusCode, b)
			default:
				cancel()
				return fmt.Errorf("registering %s through %s: %d %s", uri, via.Name, resp.StatusCode, b)
			}
		}
		cancel()
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("registering %s through %s: not accepted within %s: %v", uri, via.Name, timeout, last)
}

// WaitServices waits until every running member node's admin API knows each named service,
// since a registration made through one node reaches the others through the metadata store.
func (c *Cluster) WaitServices(timeout time.Duration, services ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, n := range c.Running() {
		for _, svc := range services {
			for {
				var out map[string]any
				err := getJSON(ctx, c.client, n.AdminURL()+"/services/"+svc, &out)
				if err == nil {
					break
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("%s does not know service %s within %s: %v", n.Name, svc, timeout, err)
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
	}
	return nil
}
