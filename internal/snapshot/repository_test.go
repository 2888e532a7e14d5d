package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/restatego/restate/internal/ids"
)

// exportDir creates a directory with a couple of files whose content depends on tag.
func exportDir(t *testing.T, tag string) string {
	t.Helper()
	dir := t.TempDir()
	for i, name := range []string{"a.kv", "b.kv"} {
		body := strings.Repeat(fmt.Sprintf("%s-%d;", tag, i), 1000+i)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func openFileRepo(t *testing.T, keep int) (Repository, string) {
	t.Helper()
	root := t.TempDir()
	d, err := ParseDestination("file://"+root+"/snaps", S3Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(d, Options{Keep: keep, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	return r, filepath.Join(root, "snaps")
}

func meta(p uint16, lsn uint64) Meta {
	return Meta{PartitionID: p, ClusterName: "c1", ClusterFingerprint: "fp1", NodeName: "n1", MinAppliedLSN: lsn, SnapshotID: ids.NewSnapshotID()}
}

// repoContract runs the behaviour every backend must show. corrupt overwrites an object.
func repoContract(t *testing.T, r Repository, corrupt func(key string, data []byte)) {
	ctx := context.Background()
	const p = 7

	if _, err := r.Fetch(ctx, p, "c1", "fp1", t.TempDir()); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("fetch from empty repo: %v, want ErrNoSnapshot", err)
	}

	src1 := exportDir(t, "one")
	m1, err := r.Put(ctx, meta(p, 100), src1)
	if err != nil {
		t.Fatal(err)
	}
	if m1.Path != SnapshotDirName(100, m1.SnapshotID) || !strings.HasPrefix(m1.Path, "lsn_00000000000000000100-snap_") {
		t.Fatalf("path = %q", m1.Path)
	}
	src2 := exportDir(t, "two")
	m2, err := r.Put(ctx, meta(p, 250), src2)
	if err != nil {
		t.Fatal(err)
	}

	l, err := r.Latest(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if l.SnapshotID != m2.SnapshotID || l.MinAppliedLSN != 250 || l.Path != m2.Path || l.ClusterName != "c1" || l.ClusterFingerprint != "fp1" || l.NodeName != "n1" || l.Version != "V1" || l.PartitionID != p {
		t.Fatalf("latest = %+v", l)
	}

	out := t.TempDir()
	got, err := r.Fetch(ctx, p, "c1", "fp1", out)
	if err != nil {
		t.Fatal(err)
	}
	if got.SnapshotID != m2.SnapshotID || len(got.Files) != 2 {
		t.Fatalf("fetched %+v", got)
	}
	for _, f := range []string{"a.kv", "b.kv"} {
		if readFile(t, filepath.Join(out, f)) != readFile(t, filepath.Join(src2, f)) {
			t.Fatalf("%s differs after fetch", f)
		}
	}

	list, err := r.List(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].SnapshotID != m2.SnapshotID || list[1].SnapshotID != m1.SnapshotID {
		t.Fatalf("list = %v", list)
	}

	// Another cluster (name, then fingerprint) is refused outright, not skipped.
	if _, err := r.Fetch(ctx, p, "other", "fp1", t.TempDir()); !errors.Is(err, ErrClusterMismatch) || !strings.Contains(err.Error(), `"other"`) {
		t.Fatalf("other cluster name: %v", err)
	}
	if _, err := r.Fetch(ctx, p, "c1", "fp2", t.TempDir()); !errors.Is(err, ErrClusterMismatch) {
		t.Fatalf("other fingerprint: %v", err)
	}
	// A cluster without a fingerprint yet accepts the snapshot by name, as Restate does.
	if _, err := r.Fetch(ctx, p, "c1", "", t.TempDir()); err != nil {
		t.Fatalf("no local fingerprint: %v", err)
	}

	// Corrupt a data file of the newest snapshot: fetch falls back to the previous one.
	corrupt(fmt.Sprintf("%d/%s/b.kv", p, m2.Path), []byte("garbage"))
	out = t.TempDir()
	got, err = r.Fetch(ctx, p, "c1", "fp1", out)
	if err != nil {
		t.Fatal(err)
	}
	if got.SnapshotID != m1.SnapshotID {
		t.Fatalf("fallback fetched %s, want %s", got.SnapshotID, m1.SnapshotID)
	}
	if readFile(t, filepath.Join(out, "a.kv")) != readFile(t, filepath.Join(src1, "a.kv")) {
		t.Fatal("fallback content differs")
	}

	// Same-size corruption is caught by the checksum, not just the size.
	orig := readFile(t, filepath.Join(src1, "a.kv"))
	corrupt(fmt.Sprintf("%d/%s/a.kv", p, m1.Path), []byte("X"+orig[1:]))
	_, err = r.Fetch(ctx, p, "c1", "fp1", t.TempDir())
	if !errors.Is(err, ErrNoValidSnapshot) || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("all snapshots corrupt: %v", err)
	}
}

func TestFileRepositoryContract(t *testing.T) {
	r, root := openFileRepo(t, 0)
	repoContract(t, r, func(key string, data []byte) {
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(key)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	})
}

func TestTruncatedLatestFallsBack(t *testing.T) {
	ctx := context.Background()
	r, root := openFileRepo(t, 0)
	m1, err := r.Put(ctx, meta(3, 10), exportDir(t, "x"))
	if err != nil {
		t.Fatal(err)
	}
	m2, err := r.Put(ctx, meta(3, 20), exportDir(t, "y"))
	if err != nil {
		t.Fatal(err)
	}
	latest := filepath.Join(root, "3", "latest.json")
	b := readFile(t, latest)
	if err := os.WriteFile(latest, []byte(b[:len(b)/2]), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Latest(ctx, 3); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "corrupt latest.json") {
		t.Fatalf("Latest on truncated file: %v", err)
	}
	got, err := r.Fetch(ctx, 3, "c1", "fp1", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got.SnapshotID != m2.SnapshotID {
		t.Fatalf("fetched %s, want newest verified %s", got.SnapshotID, m2.SnapshotID)
	}

	// A newest directory without its manifest (upload died half-way) is skipped too.
	if err := os.Remove(filepath.Join(root, "3", m2.Path, "metadata.json")); err != nil {
		t.Fatal(err)
	}
	got, err = r.Fetch(ctx, 3, "c1", "fp1", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got.SnapshotID != m1.SnapshotID {
		t.Fatalf("fetched %s, want %s", got.SnapshotID, m1.SnapshotID)
	}
	// Nothing left but a corrupt pointer: reported as corruption, not as "no snapshot".
	if err := os.RemoveAll(filepath.Join(root, "3", m1.Path)); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, "3", m2.Path)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Fetch(ctx, 3, "c1", "fp1", t.TempDir()); !errors.Is(err, ErrNoValidSnapshot) || !strings.Contains(err.Error(), "latest.json") {
		t.Fatalf("only corrupt latest.json left: %v", err)
	}
	// Without a readable latest.json, pruning refuses to guess.
	if err := r.Prune(ctx, 3, 1); err == nil {
		t.Fatal("prune with corrupt latest.json succeeded")
	}
}

func TestUnpublishedNewerSnapshotIgnored(t *testing.T) {
	ctx := context.Background()
	r, root := openFileRepo(t, 0)
	m1, err := r.Put(ctx, meta(1, 10), exportDir(t, "x"))
	if err != nil {
		t.Fatal(err)
	}
	saved := readFile(t, filepath.Join(root, "1", "latest.json"))
	m2, err := r.Put(ctx, meta(1, 20), exportDir(t, "y"))
	if err != nil {
		t.Fatal(err)
	}
	// Simulate a crash before latest.json was replaced: the pointer still names m1.
	if err := os.WriteFile(filepath.Join(root, "1", "latest.json"), []byte(saved), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := r.Fetch(ctx, 1, "c1", "fp1", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got.SnapshotID != m1.SnapshotID {
		t.Fatalf("fetched %s, want published %s", got.SnapshotID, m1.SnapshotID)
	}
	// Prune keeps the unpublished (maybe still uploading) directory.
	if err := r.Prune(ctx, 1, 1); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*Manifest{m1, m2} {
		if _, err := os.Stat(filepath.Join(root, "1", m.Path)); err != nil {
			t.Fatalf("%s removed by prune: %v", m.Path, err)
		}
	}
}

func TestRetentionKeepsK(t *testing.T) {
	ctx := context.Background()
	r, root := openFileRepo(t, 2)
	var ms []*Manifest
	for i := range 4 {
		m, err := r.Put(ctx, meta(5, uint64(100*(i+1))), exportDir(t, fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	list, err := r.List(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].SnapshotID != ms[3].SnapshotID || list[1].SnapshotID != ms[2].SnapshotID {
		t.Fatalf("after retention: %v", list)
	}
	for _, m := range ms[:2] {
		if _, err := os.Stat(filepath.Join(root, "5", m.Path)); !os.IsNotExist(err) {
			t.Fatalf("pruned dir %s still present: %v", m.Path, err)
		}
	}
	if err := r.Prune(ctx, 5, 1); err != nil {
		t.Fatal(err)
	}
	if list, _ = r.List(ctx, 5); len(list) != 1 || list[0].SnapshotID != ms[3].SnapshotID {
		t.Fatalf("after prune 1: %v", list)
	}
	if err := r.Prune(ctx, 5, 0); err == nil {
		t.Fatal("prune keep=0 accepted")
	}
}

func TestPutRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	r, _ := openFileRepo(t, 0)
	if _, err := r.Put(ctx, meta(1, 1), t.TempDir()); err == nil {
		t.Fatal("empty export dir accepted")
	}
	dir := exportDir(t, "x")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Put(ctx, meta(1, 1), dir); err == nil {
		t.Fatal("subdirectory accepted")
	}
	m := meta(1, 1)
	m.ClusterName = ""
	if _, err := r.Put(ctx, m, exportDir(t, "y")); err == nil {
		t.Fatal("missing cluster name accepted")
	}
	m = meta(1, 1)
	m.SnapshotID = "../evil"
	if _, err := r.Put(ctx, m, exportDir(t, "y")); err == nil {
		t.Fatal("bad snapshot id accepted")
	}
}

func TestDecodeManifestRejectsTraversal(t *testing.T) {
	id := ids.NewSnapshotID()
	for _, name := range []string{"../x", "a/b", "metadata.json", "", ".."} {
		b := fmt.Sprintf(`{"version":"V1","partition_id":1,"cluster_name":"c","snapshot_id":%q,"min_applied_lsn":5,"path":%q,"files":[{"name":%q,"size":1,"sha256":"%s"}]}`,
			id, SnapshotDirName(5, id), name, strings.Repeat("ab", 32))
		if _, err := DecodeManifest([]byte(b)); err == nil {
			t.Errorf("file name %q accepted", name)
		}
	}
}

func FuzzDecodeLatest(f *testing.F) {
	id := ids.NewSnapshotID()
	f.Add([]byte(fmt.Sprintf(`{"version":"V1","partition_id":1,"cluster_name":"c","node_name":"n","created_at":"2025-01-01T00:00:00Z","snapshot_id":%q,"min_applied_lsn":5,"path":%q}`, id, SnapshotDirName(5, id))))
	f.Add([]byte(`{"version":"V1"`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeLatest(b)
		if err != nil {
			return
		}
		if lsn, sid, ok := parseSnapshotDirName(l.Path); !ok || lsn != l.MinAppliedLSN || sid != l.SnapshotID {
			t.Fatalf("accepted inconsistent latest %+v", l)
		}
	})
}

func FuzzDecodeManifest(f *testing.F) {
	id := ids.NewSnapshotID()
	f.Add([]byte(fmt.Sprintf(`{"version":"V1","partition_id":1,"cluster_name":"c","snapshot_id":%q,"min_applied_lsn":5,"path":%q,"files":[{"name":"a.kv","size":1,"sha256":"%s"}]}`, id, SnapshotDirName(5, id), strings.Repeat("ab", 32))))
	f.Add([]byte(`{"files":[{"name":"../../etc/passwd"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeManifest(b)
		if err != nil {
			return
		}
		for _, fe := range m.Files {
			if filepath.Base(fe.Name) != fe.Name || fe.Name == ".." || fe.Name == "." {
				t.Fatalf("accepted unsafe file name %q", fe.Name)
			}
		}
	})
}
