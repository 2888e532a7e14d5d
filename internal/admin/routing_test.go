package admin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestVersionHealthAndPrefixes(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/version", "/v2/version"} {
		r := e.do("GET", path, nil)
		v := r.json(t)
		if r.status != 200 || v["version"] != "1.5.6" || v["min_admin_api_version"] != 2.0 || v["max_admin_api_version"] != 2.0 ||
			v["ingress_endpoint"] != "http://127.0.0.1:8080/" {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}
	if r := e.do("GET", "/health", nil); r.status != 200 || len(r.body) != 0 {
		t.Errorf("health: %d %q", r.status, r.body)
	}
	if r := e.do("GET", "/v2/health", nil); r.status != 200 {
		t.Errorf("v2 health: %d", r.status)
	}
	r := e.do("GET", "/v1/deployments", nil)
	if r.status != 400 || string(r.body) != "Unsupported Admin API version V1. This server supports versions between V2 and V2." {
		t.Errorf("v1: %d %q", r.status, r.body)
	}
	noIngress := newEnv(t, func(o *Options) { o.IngressEndpoint = "" })
	if v := noIngress.do("GET", "/version", nil).json(t); v["ingress_endpoint"] != nil {
		t.Errorf("ingress_endpoint must be null when unknown: %v", v)
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/", "/nope", "/deployments/", "/v3/deployments", "/services/a/b/c/d"} {
		if r := e.do("GET", path, nil); r.status != 404 || len(r.body) != 0 {
			t.Errorf("GET %s: %d %q", path, r.status, r.body)
		}
	}
	r := e.do("PUT", "/services", nil)
	if r.status != 405 || r.header.Get("Allow") != "GET" {
		t.Errorf("PUT /services: %d allow %q", r.status, r.header.Get("Allow"))
	}
	r = e.do("POST", "/v2/deployments/dp_x", nil)
	if r.status != 405 || !strings.Contains(r.header.Get("Allow"), "DELETE") || !strings.Contains(r.header.Get("Allow"), "PUT") {
		t.Errorf("POST deployment: %d allow %q", r.status, r.header.Get("Allow"))
	}
	if r = e.do("HEAD", "/health", nil); r.status != 200 {
		t.Errorf("HEAD /health: %d", r.status)
	}
	expectError(t, e.do("POST", "/query", `{"query":"SELECT 1"}`), 501, "", "POST /query")
}

func TestAdminOpenAPIDocument(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/openapi", nil)
	var doc map[string]any
	if err := json.Unmarshal(r.body, &doc); err != nil || r.status != 200 {
		t.Fatalf("openapi: %d %v", r.status, err)
	}
	if doc["openapi"] != "3.1.0" || get(doc, "info", "title") != "Admin API" {
		t.Errorf("header: %v", doc["info"])
	}
	paths, _ := doc["paths"].(map[string]any)
	for _, rt := range e.admin.routes {
		op := get(paths, "/"+rt.pattern, strings.ToLower(rt.method))
		if op == nil {
			t.Errorf("route %s /%s missing from the document", rt.method, rt.pattern)
		}
	}
	if get(paths, "/deployments", "post", "requestBody", "content", "application/json", "schema", "$ref") != "#/components/schemas/RegisterDeploymentRequest" {
		t.Errorf("request body ref: %v", get(paths, "/deployments", "post"))
	}
	schemas := get(doc, "components", "schemas")
	if get(schemas, "ServiceMetadata", "properties", "idempotency_retention", "type") != "string" ||
		get(schemas, "RegisterDeploymentRequest", "properties", "force", "type", 1) != "null" {
		t.Errorf("component schemas: %v", get(schemas, "ServiceMetadata"))
	}
	// Every $ref points at a defined component.
	for _, m := range regexpRefs(string(r.body)) {
		if get(schemas, m) == nil {
			t.Errorf("dangling $ref %s", m)
		}
	}
}

func regexpRefs(doc string) []string {
	var out []string
	const marker = `"$ref":"#/components/schemas/`
	for {
		i := strings.Index(doc, marker)
		if i < 0 {
			return out
		}
		doc = doc[i+len(marker):]
		out = append(out, doc[:strings.IndexByte(doc, '"')])
	}
}

type fakeCluster struct {
	health ClusterHealth
	err    error
}

func (f fakeCluster) ClusterHealth(context.Context) (ClusterHealth, error) { return f.health, f.err }
func (f fakeCluster) ClusterStatus(context.Context) (any, error) {
	return map[string]any{"nodes": 3}, nil
}

func TestClusterEndpoints(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/cluster-health", nil)
	if r.status != 200 || string(r.body) != `{"cluster_name":"localcluster","metadata_cluster_health":null}` {
		t.Errorf("default cluster-health: %d %s", r.status, r.body)
	}
	if r = e.do("GET", "/cluster", nil); r.status != 404 {
		t.Errorf("/cluster without ClusterInfo: %d", r.status)
	}

	c := newEnv(t, func(o *Options) {
		o.Cluster = fakeCluster{health: ClusterHealth{ClusterName: "prod", MetadataMembers: []uint32{1, 2, 3}}}
	})
	if r = c.do("GET", "/v2/cluster-health", nil); string(r.body) != `{"cluster_name":"prod","metadata_cluster_health":{"members":[1,2,3]}}` {
		t.Errorf("cluster-health: %s", r.body)
	}
	if r = c.do("GET", "/cluster", nil); r.status != 200 || r.json(t)["nodes"] != 3.0 {
		t.Errorf("/cluster: %d %s", r.status, r.body)
	}
	u := newEnv(t, func(o *Options) { o.Cluster = fakeCluster{err: ErrNotProvisioned} })
	if r = u.do("GET", "/cluster-health", nil); r.status != 503 || !strings.Contains(string(r.body), "not seem to be provisioned") {
		t.Errorf("unprovisioned: %d %s", r.status, r.body)
	}
}
