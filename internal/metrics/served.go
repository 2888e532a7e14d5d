package metrics

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Served is one line of testdata/served.txt: a Restate family this server serves.
type Served struct {
	Name, Type string
	Labels     []string // sorted; without cluster_name, node_name and a summary's quantile
	After      string   // event after which the family appears; empty = always
}

// Unserved is a Restate family (or a prefix ending in *) deliberately not served.
type Unserved struct{ Pattern, Reason string }

// ParseServedList reads the format of testdata/served.txt, which the tests of this package
// and the end-to-end tests share.
func ParseServedList(r io.Reader) ([]Served, []Unserved, error) {
	var served []Served
	var unserved []Unserved
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Fields(text)
		if f[0] == "unserved" {
			if len(f) < 3 {
				return nil, nil, fmt.Errorf("line %d: unserved needs a name and a reason", line)
			}
			unserved = append(unserved, Unserved{Pattern: f[1], Reason: strings.Join(f[2:], " ")})
			continue
		}
		if len(f) < 3 || len(f) > 4 {
			return nil, nil, fmt.Errorf("line %d: want name type labels [after=event], got %q", line, text)
		}
		s := Served{Name: f[0], Type: f[1]}
		switch s.Type {
		case "counter", "gauge", "summary", "histogram":
		default:
			return nil, nil, fmt.Errorf("line %d: unknown type %q", line, s.Type)
		}
		if f[2] != "-" {
			s.Labels = strings.Split(f[2], ",")
			sort.Strings(s.Labels)
		}
		if len(f) == 4 {
			ev, ok := strings.CutPrefix(f[3], "after=")
			if !ok || ev == "" {
				return nil, nil, fmt.Errorf("line %d: fourth field must be after=event, got %q", line, f[3])
			}
			s.After = ev
		}
		served = append(served, s)
	}
	return served, unserved, sc.Err()
}

// Covers reports whether the pattern (a name, or a prefix ending in *) matches name.
func (u Unserved) Covers(name string) bool {
	if p, ok := strings.CutSuffix(u.Pattern, "*"); ok {
		return strings.HasPrefix(name, p)
	}
	return name == u.Pattern
}
