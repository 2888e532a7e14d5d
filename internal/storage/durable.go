package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Durability marks guard against a damaged write-ahead log.
//
// Pebble replays its write-ahead log at open and, by design, treats a torn or unreadable tail
// of the newest log file as the end of a crash. A log that was truncated, scribbled over or
// deleted while the node was stopped therefore opens without error, minus acknowledged
// writes: a completed invocation would run again and a counter would lose its adds.
//
// To notice, every synced commit of a log writer (the local partition log, the raft host)
// carries a per-writer commit number, and a small file beside the database records the highest
// number known to be durable. The file is rewritten at most every marksInterval and at a clean
// close, always after the commits it names were synced, so it never claims more than the
// database holds. At open, a database whose commit number is below the file's lost writes, and
// the node refuses to start.

// MarksFile is the name of the durability marks file inside the database directory. Pebble
// ignores files whose names it does not know.
const MarksFile = "RESTATE-DURABLE-MARKS"

const marksHeader = "restate-durable-marks v1"

// marksInterval bounds how stale the marks file may be while the node runs: damage that only
// removes writes from the last interval before a crash looks like the crash itself.
const marksInterval = 250 * time.Millisecond

// ErrDataLoss is wrapped by open errors that mean the database lost acknowledged writes.
var ErrDataLoss = errors.New("storage: acknowledged writes are missing")

var commitKeyPrefix = []byte{0x00, 'c', 'o', 'm', 'm', 'i', 't', '/'}

func commitKey(writer string) []byte {
	return append(append([]byte{}, commitKeyPrefix...), writer...)
}

// durability tracks the commit numbers of the database's log writers and keeps the marks file
// current.
type durability struct {
	path string

	mu sync.Mutex
	// next is the last commit number handed out per writer; durable the highest one whose
	// commit returned; written what the marks file says now.
	next    map[string]uint64
	durable map[string]uint64
	written map[string]uint64

	stop chan struct{}
	done chan struct{}
}

func newDurability(dir string) *durability {
	return &durability{
		path:    filepath.Join(dir, MarksFile),
		next:    map[string]uint64{},
		durable: map[string]uint64{},
		written: map[string]uint64{},
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// CommitSynced commits b with an fsync as the log writer named writer, recording the commit so
// that a later open can tell whether the database still holds it. A writer must commit from
// one goroutine at a time: its commit numbers must reach the log in the order they are handed
// out.
func (db *DB) CommitSynced(writer string, b *pebble.Batch) error {
	d := db.marks
	d.mu.Lock()
	n, ok := d.next[writer]
	if !ok {
		var err error
		if n, err = readCommit(db.DB, writer); err != nil {
			d.mu.Unlock()
			return err
		}
		d.durable[writer] = n
	}
	n++
	d.next[writer] = n
	d.mu.Unlock()

	if err := b.Set(commitKey(writer), binary.BigEndian.AppendUint64(nil, n), nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	d.mu.Lock()
	if n > d.durable[writer] {
		d.durable[writer] = n
	}
	d.mu.Unlock()
	return nil
}

func readCommit(r pebble.Reader, writer string) (uint64, error) {
	v, ok, err := GetCopy(r, commitKey(writer))
	if err != nil || !ok {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("storage: commit number of writer %q is %d bytes long, want 8", writer, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// check compares the database with the marks file written when it was last open.
func (d *durability) check(db *pebble.DB, dir string) error {
	raw, err := os.ReadFile(d.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a new database, or one written before marks existed
	}
	if err != nil {
		return fmt.Errorf("storage: read %s: %w", d.path, err)
	}
	marks, err := decodeMarks(raw)
	if err != nil {
		return fmt.Errorf("%w: the durability marks file %s is damaged (%v), so the database cannot be trusted. %s",
			ErrDataLoss, d.path, err, recoveryAdvice(dir))
	}
	writers := make([]string, 0, len(marks))
	for w := range marks {
		writers = append(writers, w)
	}
	sort.Strings(writers)
	for _, w := range writers {
		have, err := readCommit(db, w)
		if err != nil {
			return err
		}
		if have < marks[w] {
			return fmt.Errorf("%w: the database in %s ends at commit %d of its %q writer, but commit %d was durable before the last stop: its write-ahead log was truncated, damaged or deleted. Refusing to start so that no acknowledged work is lost or run twice. %s",
				ErrDataLoss, dir, have, w, marks[w], recoveryAdvice(dir))
		}
		d.written[w] = marks[w]
	}
	return nil
}

// recoveryAdvice says what an operator can do about a damaged database.
func recoveryAdvice(dir string) string {
	return fmt.Sprintf("To recover: on a cluster node, move %s away and start the node again; it rejoins with an empty disk and rebuilds its partitions from its peers and the snapshot repository. On a single node, restore %s from a backup, or move it away to start empty (its invocations and state are then gone).", dir, dir)
}

// run keeps the marks file current until stopped.
func (d *durability) run() {
	defer close(d.done)
	t := time.NewTicker(marksInterval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			if err := d.flush(); err != nil {
				fmt.Fprintf(os.Stderr, "storage: writing %s: %v\n", d.path, err)
			}
		}
	}
}

// close stops the background writer and records the final marks.
func (d *durability) close() error {
	close(d.stop)
	<-d.done
	return d.flush()
}

// flush writes the marks file if any writer moved since it was last written.
func (d *durability) flush() error {
	d.mu.Lock()
	changed := len(d.durable) != len(d.written)
	for w, n := range d.durable {
		if d.written[w] != n {
			changed = true
		}
	}
	if !changed {
		d.mu.Unlock()
		return nil
	}
	marks := make(map[string]uint64, len(d.durable))
	for w, n := range d.written {
		marks[w] = n
	}
	for w, n := range d.durable {
		if n > marks[w] {
			marks[w] = n
		}
	}
	d.mu.Unlock()

	if err := writeFileSynced(d.path, encodeMarks(marks)); err != nil {
		return err
	}
	d.mu.Lock()
	d.written = marks
	d.mu.Unlock()
	return nil
}

// writeFileSynced replaces path atomically: a crash leaves either the old or the new file.
func writeFileSynced(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeMarks renders marks as text lines, sorted, closed by a checksum line:
//
//	restate-durable-marks v1
//	log 1234
//	raft 77
//	crc32c 0a1b2c3d
func encodeMarks(marks map[string]uint64) []byte {
	writers := make([]string, 0, len(marks))
	for w := range marks {
		writers = append(writers, w)
	}
	sort.Strings(writers)
	var b strings.Builder
	b.WriteString(marksHeader + "\n")
	for _, w := range writers {
		fmt.Fprintf(&b, "%s %d\n", w, marks[w])
	}
	body := b.String()
	return fmt.Appendf(nil, "%scrc32c %08x\n", body, crc32.Checksum([]byte(body), castagnoli))
}

// decodeMarks parses what encodeMarks wrote; anything else is an error.
func decodeMarks(raw []byte) (map[string]uint64, error) {
	text := string(raw)
	if !strings.HasSuffix(text, "\n") {
		return nil, errors.New("not terminated by a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 2 || lines[0] != marksHeader {
		return nil, fmt.Errorf("does not start with %q", marksHeader)
	}
	last := lines[len(lines)-1]
	sum, ok := strings.CutPrefix(last, "crc32c ")
	if !ok || len(sum) != 8 {
		return nil, errors.New("no checksum line")
	}
	want, err := strconv.ParseUint(sum, 16, 32)
	if err != nil {
		return nil, fmt.Errorf("bad checksum %q", sum)
	}
	body := text[:len(text)-len(last)-1]
	if got := crc32.Checksum([]byte(body), castagnoli); uint64(got) != want {
		return nil, fmt.Errorf("checksum mismatch (stored %08x, computed %08x)", want, got)
	}
	marks := make(map[string]uint64, len(lines)-2)
	for _, line := range lines[1 : len(lines)-1] {
		w, num, ok := strings.Cut(line, " ")
		if !ok || w == "" {
			return nil, fmt.Errorf("malformed line %q", line)
		}
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("malformed commit number in line %q", line)
		}
		if _, dup := marks[w]; dup {
			return nil, fmt.Errorf("writer %q listed twice", w)
		}
		marks[w] = n
	}
	return marks, nil
}
