// Command restatectl is the operator tool of a restate-server cluster. It talks to a node's
// node port (5122), like Restate's restatectl, and supports the subset of its commands this
// server implements:
//
//	restatectl [--address URL[,URL...]] snapshots create [PARTITIONS...] [--min-lsn N] [--trim-log]
//	restatectl [--address URL[,URL...]] partitions list
//	restatectl [--address URL[,URL...]] status
//	restatectl [--address URL[,URL...]] nodes list
//	restatectl [--address URL[,URL...]] metadata-server list-servers
//
// A TLS node port takes --tls-ca-file, and --tls-cert-file with --tls-key-file when it
// requires client certificates.
//
// PARTITIONS are ids and ranges ("0 2-4" or "0,2-4"); none means every partition.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/restatego/restate/internal/clusterapi"
	"github.com/restatego/restate/internal/tlsconf"
)

const defaultAddress = "http://localhost:5122/"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type cli struct {
	addresses []string
	client    *http.Client
	out, errw io.Writer
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("restatectl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := os.Getenv("RESTATECTL_ADDRESS")
	if addr == "" {
		addr = defaultAddress
	}
	for _, name := range []string{"address", "s", "server", "addresses"} {
		fs.StringVar(&addr, name, addr, "node address(es) to talk to, comma separated (env RESTATECTL_ADDRESS)")
	}
	timeout := fs.Duration("timeout", 5*time.Minute, "time limit for the whole command")
	caFile := fs.String("tls-ca-file", os.Getenv("RESTATECTL_TLS_CA_FILE"), "PEM file of the CA that node ports' certificates are issued by (env RESTATECTL_TLS_CA_FILE)")
	certFile := fs.String("tls-cert-file", os.Getenv("RESTATECTL_TLS_CERT_FILE"), "client certificate for node ports that require one (env RESTATECTL_TLS_CERT_FILE)")
	keyFile := fs.String("tls-key-file", os.Getenv("RESTATECTL_TLS_KEY_FILE"), "key of --tls-cert-file (env RESTATECTL_TLS_KEY_FILE)")
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	client, useTLS, err := httpClient(*caFile, *certFile, *keyFile)
	if err != nil {
		fmt.Fprintln(stderr, "restatectl:", err)
		return 2
	}
	c := &cli{client: client, out: stdout, errw: stderr}
	if useTLS && addr == defaultAddress {
		addr = "https://" + strings.TrimPrefix(defaultAddress, "http://")
	}
	for _, a := range strings.Split(addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			if !strings.Contains(a, "://") {
				if useTLS {
					a = "https://" + a
				} else {
					a = "http://" + a
				}
			}
			c.addresses = append(c.addresses, strings.TrimRight(a, "/"))
		}
	}
	if len(c.addresses) == 0 {
		fmt.Fprintln(stderr, "restatectl: --address is empty")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch {
	case prefixOf(rest[0], "snapshots") || prefixOf(rest[0], "snapshot"):
		if len(rest) < 2 || !(prefixOf(rest[1], "create") || prefixOf(rest[1], "create-snapshot")) {
			fmt.Fprintln(stderr, "restatectl: usage: restatectl snapshots create [PARTITIONS...] [--min-lsn N] [--trim-log]")
			return 2
		}
		args, opts, err := snapshotFlags(rest[2:])
		if err != nil {
			fmt.Fprintln(stderr, "restatectl:", err)
			return 2
		}
		return c.createSnapshots(ctx, args, opts)
	case prefixOf(rest[0], "partitions"):
		if len(rest) >= 2 && !prefixOf(rest[1], "list") && !prefixOf(rest[1], "status") {
			fmt.Fprintf(stderr, "restatectl: unknown partitions command %q\n", rest[1])
			return 2
		}
		return c.withStatus(ctx, c.printPartitions)
	case prefixOf(rest[0], "status"):
		return c.withStatus(ctx, func(st *clusterapi.Status) {
			fmt.Fprintf(c.out, "Cluster %s\n\n", st.ClusterName)
			c.printNodes(st)
			fmt.Fprintln(c.out)
			c.printPartitions(st)
		})
	case prefixOf(rest[0], "nodes"):
		if len(rest) >= 2 && !prefixOf(rest[1], "list") {
			fmt.Fprintf(stderr, "restatectl: unknown nodes command %q (this server supports: nodes list)\n", rest[1])
			return 2
		}
		return c.withStatus(ctx, c.printNodes)
	case rest[0] == "ms" || prefixOf(rest[0], "metadata-server"):
		if len(rest) >= 2 && !prefixOf(rest[1], "list-servers") && !prefixOf(rest[1], "status") {
			fmt.Fprintf(stderr, "restatectl: unknown metadata-server command %q (this server supports: metadata-server list-servers)\n", rest[1])
			return 2
		}
		return c.withStatus(ctx, c.printMetadataServers)
	}
	fmt.Fprintf(stderr, "restatectl: unknown command %q\n%s", rest[0], usage)
	return 2
}

const usage = `Usage: restatectl [--address URL[,URL...]] COMMAND

Commands:
  snapshots create [PARTITIONS...] [--min-lsn N] [--trim-log]
                                     snapshot partitions to the snapshot repository now
                                     (ids and ranges such as "0 2-4"; default: all);
                                     --min-lsn: a snapshot covering lsn N is enough;
                                     --trim-log: trim the log up to the new snapshot
  partitions list                    partitions with leader, applied, archived and trim point
  status                             nodes, then partitions
  nodes list                         nodes with address, liveness and roles
  metadata-server list-servers       the metadata quorum: members, leader, term (alias: ms)

The address is a node's node port, default http://localhost:5122/ (env RESTATECTL_ADDRESS).
A node port with TLS needs --tls-ca-file (the CA of its certificate) and, when it requires
client certificates, --tls-cert-file and --tls-key-file (env RESTATECTL_TLS_CA_FILE,
RESTATECTL_TLS_CERT_FILE, RESTATECTL_TLS_KEY_FILE). With any of them, addresses without a
scheme use https://.
`

// httpClient is the client for node ports: plain, or TLS trusting caFile (the system's roots
// without it) and presenting certFile when the port requires client certificates. useTLS
// says whether any TLS setting was given, which makes https:// the default scheme.
func httpClient(caFile, certFile, keyFile string) (client *http.Client, useTLS bool, err error) {
	if caFile == "" && certFile == "" && keyFile == "" {
		return &http.Client{}, false, nil
	}
	if (certFile == "") != (keyFile == "") {
		return nil, true, errors.New("--tls-cert-file and --tls-key-file must be given together")
	}
	var roots *x509.CertPool
	if caFile != "" {
		if roots, err = tlsconf.LoadCA(caFile); err != nil {
			return nil, true, err
		}
	}
	var cert *tlsconf.Reloader
	if certFile != "" {
		if cert, err = tlsconf.NewReloader(certFile, keyFile, slog.New(slog.DiscardHandler)); err != nil {
			return nil, true, err
		}
	}
	cfg := tlsconf.Client(roots, cert)
	// TLS 1.2 even without a certificate: a node port that requires one then refuses in the
	// handshake, with a reason the error shows, instead of closing the connection afterwards.
	cfg.MaxVersion = tls.VersionTLS12
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	return &http.Client{Transport: tr}, true, nil
}

// prefixOf accepts unambiguous abbreviations, as Restate's restatectl does ("snap cr").
func prefixOf(arg, command string) bool {
	return arg != "" && strings.HasPrefix(command, arg)
}

// parsePartitions reads ids and ranges ("3", "1-4", "0,2-3").
func parsePartitions(args []string) ([]uint16, error) {
	seen := map[uint16]bool{}
	var out []uint16
	for _, a := range args {
		for _, part := range strings.Split(a, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			lo, hi, isRange := strings.Cut(part, "-")
			from, err := strconv.ParseUint(lo, 10, 16)
			if err != nil {
				return nil, fmt.Errorf("%q is not a partition id or range", part)
			}
			to := from
			if isRange {
				if to, err = strconv.ParseUint(hi, 10, 16); err != nil || to < from {
					return nil, fmt.Errorf("%q is not a partition range such as 1-4", part)
				}
			}
			for p := from; p <= to; p++ {
				if !seen[uint16(p)] {
					seen[uint16(p)] = true
					out = append(out, uint16(p))
				}
			}
		}
	}
	return out, nil
}

func (c *cli) status(ctx context.Context) (*clusterapi.Status, error) {
	var st clusterapi.Status
	if err := c.call(ctx, http.MethodGet, "/v1/partitions", &st); err != nil {
		return nil, err
	}
	sort.Slice(st.Partitions, func(i, j int) bool { return st.Partitions[i].ID < st.Partitions[j].ID })
	return &st, nil
}

// snapshotFlags takes --min-lsn N (or --min-lsn=N) and --trim-log out of the arguments of
// snapshots create, wherever they appear, leaving the partitions.
func snapshotFlags(args []string) ([]string, clusterapi.SnapshotOptions, error) {
	var opts clusterapi.SnapshotOptions
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case !strings.HasPrefix(a, "-"):
			rest = append(rest, a)
		case name == "trim-log" && !hasValue:
			opts.TrimLog = true
		case name == "min-lsn":
			if !hasValue {
				if i+1 == len(args) {
					return nil, opts, errors.New("--min-lsn needs a log position")
				}
				i++
				value = args[i]
			}
			n, err := strconv.ParseUint(value, 10, 64)
			if err != nil {
				return nil, opts, fmt.Errorf("--min-lsn %q is not a log position", value)
			}
			opts.MinLSN = n
		default:
			return nil, opts, fmt.Errorf("unknown flag %s for snapshots create (supported: --min-lsn N, --trim-log)", a)
		}
	}
	return rest, opts, nil
}

func (c *cli) createSnapshots(ctx context.Context, args []string, opts clusterapi.SnapshotOptions) int {
	parts, err := parsePartitions(args)
	if err != nil {
		fmt.Fprintln(c.errw, "restatectl:", err)
		return 2
	}
	if len(parts) == 0 {
		st, err := c.status(ctx)
		if err != nil {
			fmt.Fprintln(c.errw, "restatectl: listing partitions:", err)
			return 1
		}
		for _, p := range st.Partitions {
			parts = append(parts, p.ID)
		}
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tSNAPSHOT\tLSN\tSIZE\tNODE\tPATH")
	failed := 0
	for _, p := range parts {
		var res clusterapi.Snapshot
		if err := c.call(ctx, http.MethodPost, fmt.Sprintf("/v1/partitions/%d/snapshot%s", p, opts.Query()), &res); err != nil {
			tw.Flush()
			fmt.Fprintf(c.errw, "restatectl: partition %d: %v\n", p, err)
			failed++
			continue
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%s\n", res.PartitionID, res.SnapshotID, res.MinAppliedLSN, res.SizeBytes, res.NodeName, res.Path)
	}
	tw.Flush()
	if failed > 0 {
		fmt.Fprintf(c.errw, "restatectl: %d of %d snapshots failed\n", failed, len(parts))
		return 1
	}
	return 0
}

// withStatus fetches the cluster status and prints it with print.
func (c *cli) withStatus(ctx context.Context, print func(*clusterapi.Status)) int {
	st, err := c.status(ctx)
	if err != nil {
		fmt.Fprintln(c.errw, "restatectl:", err)
		return 1
	}
	print(st)
	return 0
}

func (c *cli) printNodes(st *clusterapi.Status) {
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE-ID\tNAME\tADDRESS\tSTATUS\tLEADER\tFOLLOWER\tROLES")
	for _, n := range st.Nodes {
		state := "DEAD"
		if n.Alive {
			state = "ALIVE"
		}
		fmt.Fprintf(tw, "N%d\t%s\t%s\t%s\t%d\t%d\t%s\n", n.ID, n.Name, n.Address, state, len(n.Leads), len(n.Follows), strings.Join(n.Roles, " | "))
	}
	tw.Flush()
}

func (c *cli) printMetadataServers(st *clusterapi.Status) {
	names := map[uint64]string{}
	alive := map[uint64]bool{}
	for _, n := range st.Nodes {
		names[n.ID], alive[n.ID] = n.Name, n.Alive
	}
	members := append([]uint64(nil), st.Metadata.Members...)
	sort.Slice(members, func(i, j int) bool { return members[i] < members[j] })
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tNAME\tSTATUS\tLEADER\tTERM\tPROGRESS")
	for _, m := range members {
		state := "DEAD"
		if alive[m] {
			state = "MEMBER"
		}
		leader := ""
		if m == st.Metadata.Leader {
			leader = "yes"
		}
		progress := st.Metadata.Progress[m]
		if progress == "" {
			progress = "-"
		}
		fmt.Fprintf(tw, "N%d\t%s\t%s\t%s\t%d\t%s\n", m, names[m], state, leader, st.Metadata.Term, progress)
	}
	tw.Flush()
}

func (c *cli) printPartitions(st *clusterapi.Status) {
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tLEADER\tEPOCH\tREPLICAS\tAPPLIED\tDURABLE\tARCHIVED\tTRIMMED")
	for _, p := range st.Partitions {
		reps := make([]string, len(p.Replicas))
		for i, r := range p.Replicas {
			reps[i] = "N" + strconv.FormatUint(r, 10)
		}
		leader := "-"
		if p.Leader != 0 {
			leader = "N" + strconv.FormatUint(p.Leader, 10)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%d\t%d\t%d\t%d\n", p.ID, leader, p.Epoch, strings.Join(reps, ","), p.Applied, p.Durable, p.Archived, p.TrimPoint)
	}
	tw.Flush()
}

// call sends a request to the first address that answers, decoding a JSON reply into out.
func (c *cli) call(ctx context.Context, method, path string, out any) error {
	var lastErr error
	for _, a := range c.addresses {
		req, err := http.NewRequestWithContext(ctx, method, a+path, nil)
		if err != nil {
			return err
		}
		resp, err := c.client.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			lastErr = err
			continue
		}
		if resp.StatusCode != http.StatusOK {
			var e struct {
				Message string `json:"message"`
			}
			if json.Unmarshal(body, &e) == nil && e.Message != "" {
				return fmt.Errorf("%s (HTTP %d from %s)", e.Message, resp.StatusCode, a)
			}
			return fmt.Errorf("HTTP %d from %s: %s", resp.StatusCode, a, strings.TrimSpace(string(body)))
		}
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("unexpected answer from %s: %v", a, err)
		}
		return nil
	}
	return fmt.Errorf("no node reachable at %s: %v", strings.Join(c.addresses, ", "), lastErr)
}
