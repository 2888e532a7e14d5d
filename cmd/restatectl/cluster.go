package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/restatego/restate/internal/clusterapi"
	"github.com/spf13/cobra"
)

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

// withStatus fetches the cluster status and prints it, as JSON with --json.
func (c *cli) withStatus(cmd *cobra.Command, print func(*clusterapi.Status), asJSON func(*clusterapi.Status) any) error {
	st, err := c.client().status(cmd.Context())
	if err != nil {
		return failed(err)
	}
	if c.flags.json {
		return c.printJSON(asJSON(st))
	}
	print(st)
	return nil
}

func (c *cli) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Print the cluster: nodes, then partitions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withStatus(cmd, func(st *clusterapi.Status) {
				fmt.Fprintf(c.out, "Cluster %s\n\n", st.ClusterName)
				c.printNodes(st)
				fmt.Fprintln(c.out)
				c.printPartitions(st)
			}, func(st *clusterapi.Status) any { return st })
		},
	}
}

func (c *cli) nodesCmd() *cobra.Command {
	list := func(cmd *cobra.Command, _ []string) error {
		return c.withStatus(cmd, c.printNodes, func(st *clusterapi.Status) any { return st.Nodes })
	}
	nodes := &cobra.Command{Use: "nodes", Short: "Cluster nodes (default: list)", Args: noArgs("nodes"), RunE: list}
	nodes.AddCommand(&cobra.Command{Use: "list", Aliases: []string{"ls"}, Short: "Nodes with address, liveness and roles", Args: cobra.NoArgs, RunE: list})
	return nodes
}

func (c *cli) partitionsCmd() *cobra.Command {
	list := func(cmd *cobra.Command, _ []string) error {
		return c.withStatus(cmd, c.printPartitions, func(st *clusterapi.Status) any { return st.Partitions })
	}
	parts := &cobra.Command{Use: "partitions", Short: "Partitions (default: list)", Args: noArgs("partitions"), RunE: list}
	parts.AddCommand(&cobra.Command{Use: "list", Aliases: []string{"ls", "status"}, Short: "Partitions with leader, epoch, applied, durable, archived and trim point", Args: cobra.NoArgs, RunE: list})
	return parts
}

func (c *cli) metadataServerCmd() *cobra.Command {
	list := func(cmd *cobra.Command, _ []string) error {
		return c.withStatus(cmd, c.printMetadataServers, func(st *clusterapi.Status) any { return st.Metadata })
	}
	ms := &cobra.Command{Use: "metadata-server", Aliases: []string{"ms"}, Short: "The replicated metadata servers (default: list-servers)", Args: noArgs("metadata-server"), RunE: list}
	ms.AddCommand(&cobra.Command{Use: "list-servers", Aliases: []string{"status"}, Short: "The metadata quorum: members, leader, term", Args: cobra.NoArgs, RunE: list})
	return ms
}

func (c *cli) printNodes(st *clusterapi.Status) {
	tw := table(c.out)
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
	tw := table(c.out)
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

func nodeList(ids []uint64) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = "N" + strconv.FormatUint(id, 10)
	}
	return strings.Join(out, ",")
}

// epoch prints an epoch as Restate's restatectl does ("e3"), "-" before the first leader.
func epoch(e uint64) string {
	if e == 0 {
		return "-"
	}
	return "e" + strconv.FormatUint(e, 10)
}

func (c *cli) printPartitions(st *clusterapi.Status) {
	tw := table(c.out)
	fmt.Fprintln(tw, "ID\tLEADER\tEPOCH\tREPLICAS\tAPPLIED\tDURABLE\tARCHIVED\tTRIMMED")
	for _, p := range st.Partitions {
		leader := "-"
		if p.Leader != 0 {
			leader = "N" + strconv.FormatUint(p.Leader, 10)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n", p.ID, leader, epoch(p.Epoch), nodeList(p.Replicas), p.Applied, p.Durable, p.Archived, p.TrimPoint)
	}
	tw.Flush()
}

// logInfo is one partition's log, as logs list and describe show it. Each partition has its
// own log, with the partition's id; a raft group when the cluster replicates, a local log
// otherwise.
type logInfo struct {
	ID          uint16   `json:"log_id"`
	Kind        string   `json:"kind"`
	Replication int      `json:"replication"`
	Sequencer   uint64   `json:"sequencer"`
	Nodeset     []uint64 `json:"nodeset"`
	From        uint64   `json:"from_lsn"`
	Durable     uint64   `json:"durable_lsn"`
	TrimPoint   uint64   `json:"trim_point"`
}

func logsOf(st *clusterapi.Status) []logInfo {
	out := make([]logInfo, 0, len(st.Partitions))
	for _, p := range st.Partitions {
		l := logInfo{ID: p.ID, Kind: "local", Replication: len(p.Replicas), Sequencer: p.Leader, Nodeset: p.Replicas,
			From: p.TrimPoint + 1, Durable: p.Durable, TrimPoint: p.TrimPoint}
		if len(p.Voters) > 0 {
			l.Kind, l.Nodeset = "replicated", p.Voters
		}
		out = append(out, l)
	}
	return out
}

func (c *cli) logsCmd() *cobra.Command {
	logs := &cobra.Command{Use: "logs", Short: "The partitions' logs", Args: noArgs("logs")}
	logs.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Usage() }
	logs.AddCommand(&cobra.Command{
		Use: "list", Aliases: []string{"ls"}, Short: "Every log with its kind, replication, sequencer and node set", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withStatus(cmd, func(st *clusterapi.Status) {
				tw := table(c.out)
				fmt.Fprintln(tw, "L-ID\tKIND\tFROM\tDURABLE\tREPLICATION\tSEQUENCER\tNODESET")
				for _, l := range logsOf(st) {
					fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t{node: %d}\t%s\t[%s]\n", l.ID, l.Kind, l.From, l.Durable, l.Replication, nodeOrDash(l.Sequencer), nodeList(l.Nodeset))
				}
				tw.Flush()
			}, func(st *clusterapi.Status) any { return logsOf(st) })
		},
	})
	logs.AddCommand(&cobra.Command{
		Use: "describe [LOG-ID...]", Short: "One log (or several) in detail; none: all", Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			want, err := parsePartitions(args)
			if err != nil {
				return fmt.Errorf("%v (log ids are partition ids)", err)
			}
			st, err := c.client().status(cmd.Context())
			if err != nil {
				return failed(err)
			}
			all := logsOf(st)
			var picked []logInfo
			for _, id := range want {
				found := false
				for _, l := range all {
					if l.ID == id {
						picked, found = append(picked, l), true
					}
				}
				if !found {
					return failed(fmt.Errorf("log %d does not exist; this cluster has %d logs", id, len(all)))
				}
			}
			if len(want) == 0 {
				picked = all
			}
			if c.flags.json {
				return c.printJSON(picked)
			}
			for i, l := range picked {
				if i > 0 {
					fmt.Fprintln(c.out)
				}
				fmt.Fprintf(c.out, "Log Id: %d\n", l.ID)
				tw := table(c.out)
				fmt.Fprintln(tw, "  KIND\tFROM-LSN\tDURABLE-LSN\tTRIM-POINT\tREPLICATION\tSEQUENCER\tNODESET")
				fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t{node: %d}\t%s\t[%s]\n", l.Kind, l.From, l.Durable, l.TrimPoint, l.Replication, nodeOrDash(l.Sequencer), nodeList(l.Nodeset))
				tw.Flush()
			}
			return nil
		},
	})
	return logs
}

func nodeOrDash(id uint64) string {
	if id == 0 {
		return "-"
	}
	return "N" + strconv.FormatUint(id, 10)
}

// clusterConfig is what config get shows, derived from the partition table.
type clusterConfig struct {
	NumPartitions        int    `json:"num_partitions"`
	PartitionReplication int    `json:"partition_replication"`
	LogsProvider         string `json:"logs_provider"`
	Nodes                int    `json:"nodes"`
}

func configOf(st *clusterapi.Status) clusterConfig {
	cfg := clusterConfig{NumPartitions: len(st.Partitions), LogsProvider: "local", Nodes: len(st.Nodes)}
	for _, p := range st.Partitions {
		if len(p.Replicas) > cfg.PartitionReplication {
			cfg.PartitionReplication = len(p.Replicas)
		}
		if len(p.Voters) > 0 {
			cfg.LogsProvider = "replicated"
		}
	}
	return cfg
}

func (c *cli) configCmd() *cobra.Command {
	cfg := &cobra.Command{Use: "config", Short: "Cluster configuration", Args: noArgs("config")}
	cfg.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Usage() }
	cfg.AddCommand(&cobra.Command{
		Use: "get", Short: "Partitions, replication and log provider", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withStatus(cmd, func(st *clusterapi.Status) {
				cc := configOf(st)
				fmt.Fprintf(c.out, "Cluster Configuration (%s)\n", st.ClusterName)
				fmt.Fprintf(c.out, "├ Number of partitions: %d\n", cc.NumPartitions)
				fmt.Fprintf(c.out, "├ Partition replication: {node: %d}\n", cc.PartitionReplication)
				fmt.Fprintf(c.out, "└ Logs Provider: %s\n", cc.LogsProvider)
				fmt.Fprintf(c.out, " └ Log replication: {node: %d}\n", cc.PartitionReplication)
			}, func(st *clusterapi.Status) any { return configOf(st) })
		},
	})
	return cfg
}
