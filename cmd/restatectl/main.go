// Command restatectl is the operator tool of a restate-server cluster. Like Restate's
// restatectl it talks to a node's node port (5122), and any node of the cluster can answer:
//
//	restatectl [--address URL[,URL...]] [--json] COMMAND
//
//	status                                  nodes, then partitions
//	nodes list                              nodes with address, liveness and roles
//	partitions list                         leader, epoch, applied, durable, archived, trim point
//	metadata-server list-servers (ms)       the metadata quorum: members, leader, term
//	logs list | logs describe [LOG...]      the partitions' logs: replication, sequencer, range
//	config get                              partitions, replication, log provider
//	sql QUERY                               SQL over the cluster (sys_invocation, state, ...)
//	snapshots create [PARTITIONS] [--min-lsn N] [--trim-log]
//	snapshots list [PARTITIONS]
//	completion bash|zsh|fish                shell completion script
//
// PARTITIONS are ids and ranges ("0 2-4" or "0,2-4"); none means every partition. Commands
// may be abbreviated while unambiguous ("snap cr"), as in Restate's restatectl.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// cli is what every command's RunE needs.
type cli struct {
	flags globalFlags
	out   io.Writer
}

func (c *cli) client() *client {
	return &client{addresses: c.flags.addresses(), http: c.flags.httpClient()}
}

// failure is an error met while doing the work (exit status 1); every other error is a usage
// error (exit status 2), as before restatectl used cobra.
type failure struct{ error }

func (f failure) Unwrap() error { return f.error }

func failed(err error) error {
	if err == nil {
		return nil
	}
	return failure{err}
}

// printJSON writes v indented, for --json.
func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func run(args []string, stdout, stderr io.Writer) int {
	cobra.EnablePrefixMatching = true
	c := &cli{out: stdout}
	root := newRoot(c)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	var cancel context.CancelFunc = func() {}
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := c.flags.prepareTLS(); err != nil {
			return err
		}
		if len(c.flags.addresses()) == 0 {
			return errors.New("--address is empty")
		}
		ctx, stop := context.WithTimeout(cmd.Context(), c.flags.timeout)
		cancel = stop
		cmd.SetContext(ctx)
		return nil
	}
	err := root.ExecuteContext(context.Background())
	cancel()
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "restatectl:", err)
	var f failure
	if errors.As(err, &f) {
		return 1
	}
	return 2
}

func newRoot(c *cli) *cobra.Command {
	root := &cobra.Command{
		Use:   "restatectl",
		Short: "Operate a restate-server cluster through its node port",
		Long: "restatectl inspects and maintains a restate-server cluster. It talks to a node's node port\n" +
			"(default http://localhost:5122/); any node of the cluster can answer.",
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noArgs("restatectl"),
		RunE: func(cmd *cobra.Command, args []string) error {
			_ = cmd.Usage()
			return errors.New("no command given")
		},
	}
	c.flags.register(root.PersistentFlags())
	root.PersistentFlags().SetNormalizeFunc(normalizeFlag)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return err })
	root.AddCommand(c.statusCmd(), c.nodesCmd(), c.partitionsCmd(), c.metadataServerCmd(),
		c.logsCmd(), c.configCmd(), c.sqlCmd(), c.snapshotsCmd())
	return root
}

// noArgs refuses arguments to a command whose work is in its subcommands, naming the unknown
// one (cobra would otherwise print the help and succeed).
func noArgs(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			var subs []string
			for _, s := range cmd.Commands() {
				if s.IsAvailableCommand() {
					subs = append(subs, s.Name())
				}
			}
			return fmt.Errorf("unknown %s command %q (this server supports: %s)", name, args[0], strings.Join(subs, ", "))
		}
		return nil
	}
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
