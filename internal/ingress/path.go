package ingress

import (
	"errors"
	"net/url"
	"strings"
	"unicode/utf8"
)

// RouteKind is what an ingress path asks for.
type RouteKind int

const (
	RouteService    RouteKind = iota + 1 // /{service}/... ; resolved against the schema
	RouteHealth                          // /restate/health
	RouteAwakeable                       // /restate/awakeables/{id}/{resolve|reject}
	RouteInvocation                      // /restate/invocation/...
	RouteWorkflow                        // /restate/workflow/{name}/{key}/{attach|output}
	RouteOpenAPI                         // /openapi
)

// Route is a parsed ingress path. Segments are raw (not URL-decoded) except where noted.
type Route struct {
	Kind     RouteKind
	Segments []string // path segments after the route's fixed prefix
}

var errBadPath = errors.New("bad path, expected either /:service-name/:handler or /:object-name/:object-key/:handler")
var errNotFound = errors.New("not found")

// ParsePath splits an ingress request path into its route. A trailing slash is ignored, as
// Restate does.
func ParsePath(path string) (Route, error) {
	path = strings.TrimSuffix(path, "/")
	path = strings.TrimPrefix(path, "/")
	if path == "" {
		return Route{}, errNotFound
	}
	segs := strings.Split(path, "/")
	for _, s := range segs {
		if s == "" {
			return Route{}, errBadPath
		}
	}
	switch segs[0] {
	case "restate":
		if len(segs) < 2 {
			return Route{}, errNotFound
		}
		rest := segs[2:]
		switch segs[1] {
		case "health":
			if len(rest) == 0 {
				return Route{Kind: RouteHealth}, nil
			}
		case "awakeables", "a":
			if len(rest) == 2 && (rest[1] == "resolve" || rest[1] == "reject") {
				return Route{Kind: RouteAwakeable, Segments: rest}, nil
			}
		case "invocation":
			// {id}/{attach|output}, {svc}/{handler}/{idem}/{op}, {svc}/{key}/{handler}/{idem}/{op}
			if (len(rest) == 2 || len(rest) == 4 || len(rest) == 5) && isAttachOp(rest[len(rest)-1]) {
				return Route{Kind: RouteInvocation, Segments: rest}, nil
			}
		case "workflow":
			if len(rest) == 3 && isAttachOp(rest[2]) {
				return Route{Kind: RouteWorkflow, Segments: rest}, nil
			}
		}
		return Route{}, errNotFound
	case "openapi":
		if len(segs) == 1 {
			return Route{Kind: RouteOpenAPI}, nil
		}
	}
	if len(segs) < 2 || len(segs) > 4 {
		return Route{}, errBadPath
	}
	return Route{Kind: RouteService, Segments: segs}, nil
}

func isAttachOp(s string) bool { return s == "attach" || s == "output" }

// ServiceCall is a resolved call or send to a handler.
type ServiceCall struct {
	Service string
	Key     string // URL-decoded; empty for plain services
	Handler string
	Send    bool
}

// ResolveServicePath interprets the segments of a RouteService path, given whether the
// service is keyed. The key segment is URL-decoded; names are taken verbatim.
func ResolveServicePath(segs []string, keyed bool) (ServiceCall, error) {
	c := ServiceCall{Service: segs[0]}
	rest := segs[1:]
	if keyed {
		if len(rest) < 2 {
			return c, errBadPath
		}
		key, err := url.PathUnescape(rest[0])
		if err != nil || !utf8.ValidString(key) {
			return c, errors.New("bad key: the object key must be valid URL-encoded UTF-8")
		}
		c.Key = key
		rest = rest[1:]
	}
	switch len(rest) {
	case 1:
		c.Handler = rest[0]
	case 2:
		if rest[1] != "send" {
			return c, errBadPath
		}
		c.Handler, c.Send = rest[0], true
	default:
		return c, errBadPath
	}
	return c, nil
}
