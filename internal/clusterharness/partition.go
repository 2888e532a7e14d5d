package clusterharness

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// PartitionFileEnv names the server's fault-injection hook: the path of a file the node
// watches. The file lists node ids, one
// per line; the node drops all node-to-node traffic to and from those nodes, in both
// directions, until the file changes. A missing or empty file means no faults. Lines starting
// with '#' are comments. The harness replaces the file atomically (write then rename), so a
// reader never sees a partial list.
const PartitionFileEnv = "RESTATE_TEST_PARTITION_FILE"

// Block makes node n drop traffic to and from the given node ids (and nothing else).
func (c *Cluster) Block(n *Node, ids ...int) error {
	ids = slices.Sorted(slices.Values(ids))
	var b strings.Builder
	b.WriteString("# node ids " + n.Name + " does not talk to\n")
	for _, id := range ids {
		b.WriteString(strconv.Itoa(id) + "\n")
	}
	tmp := n.PartitionFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing partition file of %s: %w", n.Name, err)
	}
	if err := os.Rename(tmp, n.PartitionFile); err != nil {
		return fmt.Errorf("installing partition file of %s: %w", n.Name, err)
	}
	return nil
}

// Isolate cuts node n off from every other node, both ways: n blocks all of them and each of
// them blocks n. Clients can still reach n's ingress and admin ports.
func (c *Cluster) Isolate(n *Node) error {
	var others []int
	for _, o := range c.allNodes() {
		if o == n {
			continue
		}
		others = append(others, o.ID)
		if err := c.Block(o, n.ID); err != nil {
			return err
		}
	}
	return c.Block(n, others...)
}

// Heal clears every node's partition file.
func (c *Cluster) Heal() error {
	for _, n := range c.allNodes() {
		if err := c.Block(n); err != nil {
			return err
		}
	}
	return nil
}
