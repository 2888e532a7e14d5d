package main

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/restatego/restate/internal/clusterapi"
	"github.com/spf13/cobra"
)

// partitionsOrAll parses PARTITIONS, or lists every partition when there are none.
func (c *cli) partitionsOrAll(cmd *cobra.Command, args []string) ([]uint16, error) {
	parts, err := parsePartitions(args)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		st, err := c.client().status(cmd.Context())
		if err != nil {
			return nil, failed(fmt.Errorf("listing partitions: %w", err))
		}
		for _, p := range st.Partitions {
			parts = append(parts, p.ID)
		}
	}
	return parts, nil
}

func (c *cli) snapshotsCmd() *cobra.Command {
	snaps := &cobra.Command{Use: "snapshots", Aliases: []string{"snapshot"}, Short: "Partition snapshots", Args: noArgs("snapshots")}
	snaps.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Usage() }

	var opts clusterapi.SnapshotOptions
	create := &cobra.Command{
		Use:     "create-snapshot [PARTITIONS...]",
		Aliases: []string{"create"},
		Short:   "Snapshot partitions to the snapshot repository now (ids and ranges such as \"0 2-4\"; default: all)",
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			parts, err := c.partitionsOrAll(cmd, args)
			if err != nil {
				return err
			}
			var made []clusterapi.Snapshot
			tw := table(c.out)
			if !c.flags.json {
				fmt.Fprintln(tw, "PARTITION\tSNAPSHOT\tLSN\tSIZE\tNODE\tPATH")
			}
			failures := 0
			for _, p := range parts {
				var res clusterapi.Snapshot
				if err := c.client().call(cmd.Context(), http.MethodPost, fmt.Sprintf("/v1/partitions/%d/snapshot%s", p, opts.Query()), nil, &res); err != nil {
					tw.Flush()
					fmt.Fprintf(cmd.ErrOrStderr(), "restatectl: partition %d: %v\n", p, err)
					failures++
					continue
				}
				made = append(made, res)
				if !c.flags.json {
					fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%s\n", res.PartitionID, res.SnapshotID, res.MinAppliedLSN, res.SizeBytes, res.NodeName, res.Path)
				}
			}
			tw.Flush()
			if c.flags.json {
				if err := c.printJSON(made); err != nil {
					return err
				}
			}
			if failures > 0 {
				return failed(fmt.Errorf("%d of %d snapshots failed", failures, len(parts)))
			}
			return nil
		},
	}
	create.Flags().Uint64Var(&opts.MinLSN, "min-lsn", 0, "a snapshot covering this log position is enough (an existing one, or wait until applied)")
	create.Flags().BoolVar(&opts.TrimLog, "trim-log", false, "trim the log up to the new snapshot")
	snaps.AddCommand(create)

	snaps.AddCommand(&cobra.Command{
		Use:     "list [PARTITIONS...]",
		Aliases: []string{"ls"},
		Short:   "Snapshots in the repository, newest first (default: every partition)",
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			parts, err := c.partitionsOrAll(cmd, args)
			if err != nil {
				return err
			}
			type listing struct {
				PartitionID uint16            `json:"partition_id"`
				Latest      *json.RawMessage  `json:"latest"`
				Snapshots   []json.RawMessage `json:"snapshots"`
			}
			type manifest struct {
				SnapshotID    string `json:"snapshot_id"`
				MinAppliedLSN uint64 `json:"min_applied_lsn"`
				CreatedAt     string `json:"created_at"`
				NodeName      string `json:"node_name"`
				Path          string `json:"path"`
			}
			var all []listing
			for _, p := range parts {
				var l listing
				if err := c.client().call(cmd.Context(), http.MethodGet, fmt.Sprintf("/v1/partitions/%d/snapshots", p), nil, &l); err != nil {
					return failed(fmt.Errorf("partition %d: %w", p, err))
				}
				all = append(all, l)
			}
			if c.flags.json {
				return c.printJSON(all)
			}
			tw := table(c.out)
			fmt.Fprintln(tw, "PARTITION\tSNAPSHOT\tLSN\tCREATED\tNODE\tPATH")
			for _, l := range all {
				for _, raw := range l.Snapshots {
					var m manifest
					if err := json.Unmarshal(raw, &m); err != nil {
						return failed(fmt.Errorf("partition %d: unexpected snapshot entry: %v", l.PartitionID, err))
					}
					fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\n", l.PartitionID, m.SnapshotID, m.MinAppliedLSN, m.CreatedAt, m.NodeName, m.Path)
				}
			}
			return tw.Flush()
		},
	})
	return snaps
}
