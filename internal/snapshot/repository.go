package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/restatego/restate/internal/ids"
)

// Errors callers branch on.
var (
	// ErrNoSnapshot: the repository holds no snapshot of the partition.
	ErrNoSnapshot = errors.New("snapshot: no snapshot found for partition")
	// ErrClusterMismatch: the snapshot was produced by another cluster (name or fingerprint).
	ErrClusterMismatch = errors.New("snapshot: snapshot belongs to a different cluster")
	// ErrNoValidSnapshot: snapshots exist, but every one of them is corrupt or incomplete.
	ErrNoValidSnapshot = errors.New("snapshot: no valid snapshot found for partition")
	// ErrCorrupt marks a latest.json, manifest or data file that is malformed, missing or
	// fails its checksum, as opposed to a failure to reach the store.
	ErrCorrupt = errors.New("snapshot: corrupt or incomplete snapshot")
)

// corruptError keeps the specific message while matching errors.Is(err, ErrCorrupt).
type corruptError struct{ err error }

func (e corruptError) Error() string        { return e.err.Error() }
func (e corruptError) Unwrap() error        { return e.err }
func (e corruptError) Is(target error) bool { return target == ErrCorrupt }

func corrupt(err error) error { return corruptError{err} }

const (
	latestFile   = "latest.json"
	manifestFile = "metadata.json"
	// latestVersion is the latest.json format; V1 is Restate's format without retained-list.
	latestVersion = "V1"
	// ManifestVersion is the metadata.json format written by this package.
	ManifestVersion = "V1"
	// maxMetaBytes bounds how much of latest.json/metadata.json is read; both are tiny.
	maxMetaBytes = 4 << 20
)

// Meta describes the snapshot being uploaded.
type Meta struct {
	PartitionID        uint16
	ClusterName        string
	ClusterFingerprint string // optional; checked on restore when both sides have one
	NodeName           string
	MinAppliedLSN      uint64
	SnapshotID         string // ids.NewSnapshotID(); generated when empty
}

// FileEntry is one data file of a snapshot.
type FileEntry struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Manifest is the metadata.json stored next to a snapshot's files.
type Manifest struct {
	Version            string      `json:"version"`
	PartitionID        uint16      `json:"partition_id"`
	ClusterName        string      `json:"cluster_name"`
	ClusterFingerprint string      `json:"cluster_fingerprint,omitempty"`
	NodeName           string      `json:"node_name"`
	CreatedAt          time.Time   `json:"created_at"`
	SnapshotID         string      `json:"snapshot_id"`
	MinAppliedLSN      uint64      `json:"min_applied_lsn"`
	Path               string      `json:"path"` // directory relative to the partition, lsn_…-snap_…
	Files              []FileEntry `json:"files"`
}

// Latest is latest.json, the pointer to the newest complete snapshot of a partition.
type Latest struct {
	Version            string    `json:"version"`
	PartitionID        uint16    `json:"partition_id"`
	ClusterName        string    `json:"cluster_name"`
	ClusterFingerprint string    `json:"cluster_fingerprint,omitempty"`
	NodeName           string    `json:"node_name"`
	CreatedAt          time.Time `json:"created_at"`
	SnapshotID         string    `json:"snapshot_id"`
	MinAppliedLSN      uint64    `json:"min_applied_lsn"`
	Path               string    `json:"path"`
}

// Repository reads and writes partition snapshots.
type Repository interface {
	// Put uploads the regular files of dir as a new snapshot, then its metadata.json, then
	// latest.json, and finally prunes old snapshots if the repository has a retention.
	Put(ctx context.Context, meta Meta, dir string) (*Manifest, error)
	// Fetch downloads the newest valid snapshot of a partition into dir (created if needed;
	// it should be empty), verifying every file's size and SHA-256. A corrupt or incomplete
	// snapshot (or latest.json) is skipped in favour of the next older one, noted through
	// Options.Logf; ErrNoValidSnapshot lists all problems when nothing valid remains. A
	// snapshot of another cluster fails with ErrClusterMismatch; an empty repository with
	// ErrNoSnapshot.
	Fetch(ctx context.Context, partition uint16, clusterName, fingerprint, dir string) (*Manifest, error)
	// Latest reads and validates latest.json (ErrNoSnapshot when absent).
	Latest(ctx context.Context, partition uint16) (*Latest, error)
	// List returns the manifests of all snapshots whose metadata.json parses, newest first.
	// It does not verify data files.
	List(ctx context.Context, partition uint16) ([]Manifest, error)
	// Prune deletes all but the newest keep snapshot directories, never the one latest.json
	// points to nor any newer one (which may still be uploading).
	Prune(ctx context.Context, partition uint16, keep int) error
}

// Options tune a repository.
type Options struct {
	// Keep is how many snapshots Put retains per partition; 0 keeps all (Restate's default).
	Keep int
	// Logf receives notes about skipped corrupt snapshots; nil discards them.
	Logf func(format string, args ...any)
}

// Open returns a repository on d.
func Open(d *Destination, opts Options) (Repository, error) {
	if d == nil {
		return nil, errors.New("snapshot: no destination")
	}
	if opts.Keep < 0 {
		return nil, fmt.Errorf("snapshot: retention must be >= 0, got %d", opts.Keep)
	}
	r := &repo{keep: opts.Keep, logf: opts.Logf}
	if r.logf == nil {
		r.logf = func(string, ...any) {}
	}
	switch d.scheme {
	case "file":
		if err := os.MkdirAll(d.dir, 0o755); err != nil {
			return nil, fmt.Errorf("snapshot: create repository directory %s: %w", d.dir, err)
		}
		r.store = &fileStore{root: d.dir}
	case "s3":
		s, err := newS3Store(d)
		if err != nil {
			return nil, err
		}
		r.store = s
	default:
		return nil, fmt.Errorf("snapshot: unsupported destination scheme %q", d.scheme)
	}
	return r, nil
}

type repo struct {
	store objectStore
	keep  int
	logf  func(format string, args ...any)
}

// SnapshotDirName is the directory of a snapshot: lsn_<20 digits>-<snapshot id>.
func SnapshotDirName(lsn uint64, snapshotID string) string {
	return fmt.Sprintf("lsn_%020d-%s", lsn, snapshotID)
}

// parseSnapshotDirName is the inverse of SnapshotDirName.
func parseSnapshotDirName(name string) (lsn uint64, id string, ok bool) {
	rest, found := strings.CutPrefix(name, "lsn_")
	if !found || len(rest) < 22 || rest[20] != '-' {
		return 0, "", false
	}
	lsn, err := strconv.ParseUint(rest[:20], 10, 64)
	if err != nil || !ids.ValidSnapshotID(rest[21:]) {
		return 0, "", false
	}
	return lsn, rest[21:], true
}

func partitionKey(p uint16, rest ...string) string {
	return strings.Join(append([]string{strconv.Itoa(int(p))}, rest...), "/")
}

// validFileName admits plain names only: manifests come from outside and must not steer
// downloads out of the target directory.
func validFileName(n string) bool {
	return n != "" && n != "." && n != ".." && n != manifestFile && len(n) <= 255 &&
		!strings.ContainsAny(n, "/\\\x00") && !strings.HasPrefix(n, fileStoreTempPrefix)
}

func (r *repo) Put(ctx context.Context, meta Meta, dir string) (*Manifest, error) {
	if meta.ClusterName == "" {
		return nil, errors.New("snapshot: put needs a cluster name")
	}
	if meta.SnapshotID == "" {
		meta.SnapshotID = ids.NewSnapshotID()
	}
	if !ids.ValidSnapshotID(meta.SnapshotID) {
		return nil, fmt.Errorf("snapshot: invalid snapshot id %q", meta.SnapshotID)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("snapshot: read export directory: %w", err)
	}
	m := &Manifest{
		Version:            ManifestVersion,
		PartitionID:        meta.PartitionID,
		ClusterName:        meta.ClusterName,
		ClusterFingerprint: meta.ClusterFingerprint,
		NodeName:           meta.NodeName,
		CreatedAt:          time.Now().UTC(),
		SnapshotID:         meta.SnapshotID,
		MinAppliedLSN:      meta.MinAppliedLSN,
		Path:               SnapshotDirName(meta.MinAppliedLSN, meta.SnapshotID),
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			return nil, fmt.Errorf("snapshot: export directory %s holds %q, which is not a regular file", dir, e.Name())
		}
		if !validFileName(e.Name()) {
			return nil, fmt.Errorf("snapshot: export file name %q is not allowed", e.Name())
		}
		fe, err := r.uploadFile(ctx, partitionKey(meta.PartitionID, m.Path, e.Name()), filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		fe.Name = e.Name()
		m.Files = append(m.Files, fe)
	}
	if len(m.Files) == 0 {
		return nil, fmt.Errorf("snapshot: export directory %s is empty", dir)
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := r.store.put(ctx, partitionKey(meta.PartitionID, m.Path, manifestFile), bytes.NewReader(mb), int64(len(mb))); err != nil {
		return nil, err
	}
	lb, err := json.MarshalIndent(latestOf(m), "", "  ")
	if err != nil {
		return nil, err
	}
	// Published last: until here the new directory is invisible to readers following latest.json.
	if err := r.store.put(ctx, partitionKey(meta.PartitionID, latestFile), bytes.NewReader(lb), int64(len(lb))); err != nil {
		return nil, err
	}
	if r.keep > 0 {
		if err := r.Prune(ctx, meta.PartitionID, r.keep); err != nil {
			// The snapshot itself is published; failing to delete old ones is not fatal.
			r.logf("snapshot: partition %d: pruning old snapshots failed: %v", meta.PartitionID, err)
		}
	}
	return m, nil
}

func latestOf(m *Manifest) *Latest {
	return &Latest{
		Version:            latestVersion,
		PartitionID:        m.PartitionID,
		ClusterName:        m.ClusterName,
		ClusterFingerprint: m.ClusterFingerprint,
		NodeName:           m.NodeName,
		CreatedAt:          m.CreatedAt,
		SnapshotID:         m.SnapshotID,
		MinAppliedLSN:      m.MinAppliedLSN,
		Path:               m.Path,
	}
}

func (r *repo) uploadFile(ctx context.Context, key, path string) (FileEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileEntry{}, fmt.Errorf("snapshot: open export file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return FileEntry{}, fmt.Errorf("snapshot: stat export file: %w", err)
	}
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(f, h)}
	if err := r.store.put(ctx, key, cr, st.Size()); err != nil {
		return FileEntry{}, err
	}
	if cr.n != st.Size() {
		return FileEntry{}, fmt.Errorf("snapshot: export file %s changed size during upload (%d, now %d bytes)", path, st.Size(), cr.n)
	}
	return FileEntry{Size: cr.n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (r *repo) readSmall(ctx context.Context, key string) ([]byte, error) {
	rc, err := r.store.get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxMetaBytes+1))
	if err != nil {
		return nil, fmt.Errorf("snapshot: read %s: %w", key, err)
	}
	if len(b) > maxMetaBytes {
		return nil, corrupt(fmt.Errorf("snapshot: %s is larger than %d bytes", key, maxMetaBytes))
	}
	return b, nil
}

// DecodeLatest parses and validates latest.json bytes.
func DecodeLatest(b []byte) (*Latest, error) {
	var l Latest
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("snapshot: corrupt latest.json: %w", err)
	}
	if l.Version != "V1" && l.Version != "V2" {
		return nil, fmt.Errorf("snapshot: latest.json has unsupported version %q", l.Version)
	}
	if l.ClusterName == "" || !ids.ValidSnapshotID(l.SnapshotID) {
		return nil, errors.New("snapshot: latest.json lacks a cluster name or a valid snapshot id")
	}
	lsn, id, ok := parseSnapshotDirName(l.Path)
	if !ok || lsn != l.MinAppliedLSN || id != l.SnapshotID {
		return nil, fmt.Errorf("snapshot: latest.json path %q does not match its lsn %d and snapshot id", l.Path, l.MinAppliedLSN)
	}
	return &l, nil
}

// DecodeManifest parses and validates metadata.json bytes.
func DecodeManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("snapshot: corrupt metadata.json: %w", err)
	}
	if m.Version != ManifestVersion {
		return nil, fmt.Errorf("snapshot: metadata.json has unsupported version %q", m.Version)
	}
	if m.ClusterName == "" || !ids.ValidSnapshotID(m.SnapshotID) {
		return nil, errors.New("snapshot: metadata.json lacks a cluster name or a valid snapshot id")
	}
	lsn, id, ok := parseSnapshotDirName(m.Path)
	if !ok || lsn != m.MinAppliedLSN || id != m.SnapshotID {
		return nil, fmt.Errorf("snapshot: metadata.json path %q does not match its lsn %d and snapshot id", m.Path, m.MinAppliedLSN)
	}
	if len(m.Files) == 0 {
		return nil, errors.New("snapshot: metadata.json lists no files")
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		if !validFileName(f.Name) || seen[f.Name] {
			return nil, fmt.Errorf("snapshot: metadata.json lists an invalid or duplicate file name %q", f.Name)
		}
		seen[f.Name] = true
		if f.Size < 0 {
			return nil, fmt.Errorf("snapshot: metadata.json gives file %q a negative size", f.Name)
		}
		if d, err := hex.DecodeString(f.SHA256); err != nil || len(d) != sha256.Size {
			return nil, fmt.Errorf("snapshot: metadata.json gives file %q an invalid sha256", f.Name)
		}
	}
	return &m, nil
}

func checkCluster(kind, gotName, gotFP, wantName, wantFP string) error {
	if gotName != wantName {
		return fmt.Errorf("%w: %s was made by cluster %q, this is cluster %q", ErrClusterMismatch, kind, gotName, wantName)
	}
	// Like Restate, only compare fingerprints when both sides have one.
	if gotFP != "" && wantFP != "" && gotFP != wantFP {
		return fmt.Errorf("%w: %s has cluster fingerprint %q, this cluster's is %q; is the snapshot destination shared with another cluster?", ErrClusterMismatch, kind, gotFP, wantFP)
	}
	return nil
}

func (r *repo) Latest(ctx context.Context, p uint16) (*Latest, error) {
	b, err := r.readSmall(ctx, partitionKey(p, latestFile))
	if errors.Is(err, errNotFound) {
		return nil, fmt.Errorf("%w %d", ErrNoSnapshot, p)
	}
	if err != nil {
		return nil, err
	}
	l, err := DecodeLatest(b)
	if err != nil {
		return nil, corrupt(fmt.Errorf("partition %d: %w", p, err))
	}
	if l.PartitionID != p {
		return nil, corrupt(fmt.Errorf("snapshot: latest.json of partition %d names partition %d", p, l.PartitionID))
	}
	return l, nil
}

// snapshotDirs lists the snapshot directory names of a partition, newest (highest lsn) first.
func (r *repo) snapshotDirs(ctx context.Context, p uint16) ([]string, error) {
	keys, err := r.store.list(ctx, partitionKey(p)+"/")
	if err != nil {
		return nil, err
	}
	type dir struct {
		name string
		lsn  uint64
	}
	seen := map[string]bool{}
	var dirs []dir
	for _, k := range keys {
		rest := strings.TrimPrefix(k, partitionKey(p)+"/")
		name, _, ok := strings.Cut(rest, "/")
		if !ok || seen[name] {
			continue
		}
		if lsn, _, valid := parseSnapshotDirName(name); valid {
			seen[name] = true
			dirs = append(dirs, dir{name, lsn})
		}
	}
	sort.Slice(dirs, func(i, j int) bool {
		if dirs[i].lsn != dirs[j].lsn {
			return dirs[i].lsn > dirs[j].lsn
		}
		return dirs[i].name > dirs[j].name // ULID ids sort by creation time
	})
	out := make([]string, len(dirs))
	for i, d := range dirs {
		out[i] = d.name
	}
	return out, nil
}

func (r *repo) manifest(ctx context.Context, p uint16, dirName string) (*Manifest, error) {
	b, err := r.readSmall(ctx, partitionKey(p, dirName, manifestFile))
	if errors.Is(err, errNotFound) {
		return nil, corrupt(fmt.Errorf("snapshot: %s has no metadata.json (incomplete upload?)", dirName))
	}
	if err != nil {
		return nil, err
	}
	m, err := DecodeManifest(b)
	if err != nil {
		return nil, corrupt(fmt.Errorf("%s: %w", dirName, err))
	}
	if m.Path != dirName || m.PartitionID != p {
		return nil, corrupt(fmt.Errorf("snapshot: %s: metadata.json describes %s of partition %d", dirName, m.Path, m.PartitionID))
	}
	return m, nil
}

func (r *repo) List(ctx context.Context, p uint16) ([]Manifest, error) {
	dirs, err := r.snapshotDirs(ctx, p)
	if err != nil {
		return nil, err
	}
	var out []Manifest
	for _, d := range dirs {
		m, err := r.manifest(ctx, p, d)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		out = append(out, *m)
	}
	return out, nil
}

func (r *repo) Fetch(ctx context.Context, p uint16, clusterName, fingerprint, dir string) (*Manifest, error) {
	var candidates []string
	var problems []string
	latest, err := r.Latest(ctx, p)
	switch {
	case err == nil:
		if err := checkCluster("latest.json of partition "+strconv.Itoa(int(p)), latest.ClusterName, latest.ClusterFingerprint, clusterName, fingerprint); err != nil {
			return nil, err
		}
		candidates = append(candidates, latest.Path)
	case errors.Is(err, ErrNoSnapshot):
		// A crash between uploading a snapshot and publishing latest.json leaves directories
		// without a pointer; they are still usable once verified.
	case errors.Is(err, ErrCorrupt):
		problems = append(problems, err.Error())
		r.logf("snapshot: partition %d: %v; falling back to older snapshots", p, err)
	default:
		return nil, err // the store is unreachable or refuses us: not a reason to go back in time
	}
	dirs, err := r.snapshotDirs(ctx, p)
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		// With a valid latest.json, newer directories are uploads that were never published.
		if latest != nil {
			if lsn, _, _ := parseSnapshotDirName(d); d == latest.Path || lsn > latest.MinAppliedLSN {
				continue
			}
		}
		candidates = append(candidates, d)
	}
	if len(candidates) == 0 && len(problems) > 0 {
		return nil, fmt.Errorf("%w %d: %s", ErrNoValidSnapshot, p, strings.Join(problems, "; "))
	}
	if len(candidates) == 0 {
		return nil, fmt.Errorf("%w %d", ErrNoSnapshot, p)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("snapshot: create download directory: %w", err)
	}
	for _, d := range candidates {
		m, err := r.manifest(ctx, p, d)
		if err == nil {
			if err := checkCluster(d, m.ClusterName, m.ClusterFingerprint, clusterName, fingerprint); err != nil {
				return nil, err
			}
			err = r.download(ctx, p, m, dir)
		}
		if err == nil {
			return m, nil
		}
		if !errors.Is(err, ErrCorrupt) {
			return nil, err
		}
		problems = append(problems, err.Error())
		r.logf("snapshot: partition %d: skipping snapshot %s: %v", p, d, err)
	}
	return nil, fmt.Errorf("%w %d: %s", ErrNoValidSnapshot, p, strings.Join(problems, "; "))
}

// download fetches every file of m into dir; on failure it removes what it wrote.
func (r *repo) download(ctx context.Context, p uint16, m *Manifest, dir string) (err error) {
	var written []string
	defer func() {
		if err != nil {
			for _, w := range written {
				os.Remove(w)
			}
		}
	}()
	for _, f := range m.Files {
		target := filepath.Join(dir, f.Name)
		written = append(written, target)
		if err := r.downloadFile(ctx, partitionKey(p, m.Path, f.Name), target, f); err != nil {
			return err
		}
	}
	return nil
}

func (r *repo) downloadFile(ctx context.Context, key, target string, f FileEntry) error {
	rc, err := r.store.get(ctx, key)
	if errors.Is(err, errNotFound) {
		return corrupt(fmt.Errorf("snapshot: file %s is missing", key))
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	out, err := os.OpenFile(target, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("snapshot: create %s: %w", target, err)
	}
	h := sha256.New()
	// Read one byte past the expected size so a longer object is noticed.
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(ctxReader{ctx, rc}, f.Size+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("snapshot: download %s: %w", key, err)
	}
	if n != f.Size {
		return corrupt(fmt.Errorf("snapshot: file %s has %d bytes, metadata.json says %d", key, n, f.Size))
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return corrupt(fmt.Errorf("snapshot: file %s fails its checksum (sha256 %s, expected %s)", key, got, f.SHA256))
	}
	return nil
}

func (r *repo) Prune(ctx context.Context, p uint16, keep int) error {
	if keep < 1 {
		return fmt.Errorf("snapshot: prune must keep at least one snapshot, got %d", keep)
	}
	latest, err := r.Latest(ctx, p)
	if err != nil {
		// Without a trustworthy pointer we cannot tell which directories are safe to remove.
		return fmt.Errorf("snapshot: not pruning partition %d: %w", p, err)
	}
	dirs, err := r.snapshotDirs(ctx, p)
	if err != nil {
		return err
	}
	kept := 0
	var doomed []string
	for _, d := range dirs {
		lsn, _, _ := parseSnapshotDirName(d)
		if d != latest.Path && lsn >= latest.MinAppliedLSN && kept == 0 {
			continue // newer than the published snapshot: possibly still uploading
		}
		if kept < keep {
			kept++
			continue
		}
		doomed = append(doomed, d)
	}
	keys, err := r.store.list(ctx, partitionKey(p)+"/")
	if err != nil {
		return err
	}
	isDoomed := map[string]bool{}
	for _, d := range doomed {
		isDoomed[d] = true
	}
	// Delete data files before each manifest so an interrupted prune leaves directories that
	// are recognisably incomplete rather than ones whose manifest points at missing data.
	sort.SliceStable(keys, func(i, j int) bool {
		return !strings.HasSuffix(keys[i], "/"+manifestFile) && strings.HasSuffix(keys[j], "/"+manifestFile)
	})
	for _, k := range keys {
		name, _, _ := strings.Cut(strings.TrimPrefix(k, partitionKey(p)+"/"), "/")
		if isDoomed[name] {
			if err := r.store.delete(ctx, k); err != nil {
				return err
			}
		}
	}
	return nil
}
