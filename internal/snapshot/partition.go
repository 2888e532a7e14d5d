package snapshot

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"

	"github.com/restatego/restate/internal/storage"
)

// PartitionDataFile is the file ExportPartition writes and ImportPartition reads.
const PartitionDataFile = "partition.kv"

// The partition data file is a framed key/value stream:
//
//	header:  magic "RGSNAPKV" | format u32 | partition u16 | applied lsn u64   (big endian)
//	records: uvarint len(key) | key | uvarint len(value) | value             (keys ascending)
//	end:     0x00 | record count u64 | CRC-32C u32 of every preceding byte
//
// Keys are full storage keys; every one must lie in the partition's span. The file format
// follows the storage format of the keys it carries: format 1 files hold keys in storage format
// 1 and are upgraded key by key on import (storage.UpgradeKeyV1); format 2 files hold storage
// format 2 keys, which a release that reads only format 1 refuses instead of misreading.
const (
	kvMagic         = "RGSNAPKV"
	kvFormatVersion = 2
	kvHeaderLen     = 8 + 4 + 2 + 8
	// Bounds that keep a corrupt length from turning into a huge allocation. A key holds an
	// object key and a state name, each as long as a protocol message allows, so keys get the
	// same bound as values.
	maxKVKeyLen   = 256 << 20
	maxKVValueLen = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func appliedKey(p uint16) []byte { return storage.TableKey(p, storage.TableMeta, []byte("applied")) }

// ExportPartition writes partition p's whole key span, read from one consistent Pebble
// snapshot, into dir/partition.kv and returns the applied lsn recorded in that snapshot.
func ExportPartition(db *storage.DB, p uint16, dir string) (lsn uint64, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("snapshot: create export directory: %w", err)
	}
	snap := db.NewSnapshot()
	defer snap.Close()
	if v, ok, err := storage.GetCopy(snap, appliedKey(p)); err != nil {
		return 0, fmt.Errorf("snapshot: read applied lsn of partition %d: %w", p, err)
	} else if ok {
		if len(v) != 8 {
			return 0, fmt.Errorf("snapshot: partition %d has a corrupt applied lsn", p)
		}
		lsn = binary.BigEndian.Uint64(v)
	}
	path := filepath.Join(dir, PartitionDataFile)
	f, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("snapshot: create %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	start, end := storage.PartitionSpan(p)
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	w := newKVWriter(f, p, lsn)
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return 0, fmt.Errorf("snapshot: read partition %d: %w", p, err)
		}
		w.add(it.Key(), v)
	}
	if err := it.Error(); err != nil {
		return 0, fmt.Errorf("snapshot: read partition %d: %w", p, err)
	}
	if err := w.finish(); err != nil {
		return 0, fmt.Errorf("snapshot: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("snapshot: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("snapshot: write %s: %w", path, err)
	}
	return lsn, nil
}

// importBatchBytes bounds each write batch during import.
const importBatchBytes = 4 << 20

// ImportPartition replaces partition p's span with the contents of dir/partition.kv.
// The file is verified completely before anything is written. The applied lsn key goes into
// the final batch: a crash mid-import leaves the partition without an applied lsn, and
// importing again (which starts by clearing the span) repairs it.
func ImportPartition(db *storage.DB, p uint16, dir string) error {
	path := filepath.Join(dir, PartitionDataFile)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("snapshot: open %s: %w", path, err)
	}
	defer f.Close()
	// Verify the whole file before touching the database, so a corrupt file never destroys
	// the partition's current contents.
	if _, err := readKV(bufio.NewReaderSize(f, 1<<20), p, func(k, v []byte) error { return nil }); err != nil {
		return fmt.Errorf("snapshot: import partition %d from %s: %w", p, path, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	start, end := storage.PartitionSpan(p)
	b := db.NewBatch()
	defer func() { b.Close() }()
	if err := b.DeleteRange(start, end, nil); err != nil {
		return err
	}
	applied := appliedKey(p)
	var appliedValue []byte
	_, err = readKV(bufio.NewReaderSize(f, 1<<20), p, func(k, v []byte) error {
		if bytes.Equal(k, applied) {
			appliedValue = append([]byte{}, v...)
			return nil
		}
		if err := b.Set(k, v, nil); err != nil {
			return err
		}
		if b.Len() >= importBatchBytes {
			if err := b.Commit(pebble.NoSync); err != nil {
				return err
			}
			b.Close()
			b = db.NewBatch()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("snapshot: import partition %d from %s: %w", p, path, err)
	}
	if appliedValue != nil {
		if err := b.Set(applied, appliedValue, nil); err != nil {
			return err
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("snapshot: import partition %d: %w", p, err)
	}
	return nil
}

type kvWriter struct {
	w   *bufio.Writer
	crc hash.Hash32
	n   uint64
	err error
	buf [binary.MaxVarintLen64]byte
}

func newKVWriter(w io.Writer, p uint16, lsn uint64) *kvWriter {
	kw := &kvWriter{crc: crc32.New(castagnoli)}
	kw.w = bufio.NewWriterSize(io.MultiWriter(w, kw.crc), 1<<20)
	hdr := make([]byte, 0, kvHeaderLen)
	hdr = append(hdr, kvMagic...)
	hdr = binary.BigEndian.AppendUint32(hdr, kvFormatVersion)
	hdr = binary.BigEndian.AppendUint16(hdr, p)
	hdr = binary.BigEndian.AppendUint64(hdr, lsn)
	kw.write(hdr)
	return kw
}

func (kw *kvWriter) write(b []byte) {
	if kw.err == nil {
		_, kw.err = kw.w.Write(b)
	}
}

func (kw *kvWriter) add(k, v []byte) {
	kw.write(kw.buf[:binary.PutUvarint(kw.buf[:], uint64(len(k)))])
	kw.write(k)
	kw.write(kw.buf[:binary.PutUvarint(kw.buf[:], uint64(len(v)))])
	kw.write(v)
	kw.n++
}

func (kw *kvWriter) finish() error {
	kw.write([]byte{0})
	kw.write(binary.BigEndian.AppendUint64(nil, kw.n))
	if kw.err == nil {
		kw.err = kw.w.Flush()
	}
	if kw.err != nil {
		return kw.err
	}
	// The CRC covers everything flushed so far and is written outside the hashed stream.
	_, err := kw.w.Write(binary.BigEndian.AppendUint32(nil, kw.crc.Sum32()))
	if err == nil {
		err = kw.w.Flush()
	}
	return err
}

// crcReader hashes what passes through it.
type crcReader struct {
	r   io.ByteReader
	src io.Reader
	crc hash.Hash32
}

func (c *crcReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.crc.Write([]byte{b})
	}
	return b, err
}

func (c *crcReader) full(p []byte) error {
	if _, err := io.ReadFull(c.src, p); err != nil {
		return err
	}
	c.crc.Write(p)
	return nil
}

// readN appends n bytes to dst, growing it only as data actually arrives so that a corrupt
// length cannot force a large allocation up front.
func (c *crcReader) readN(dst []byte, n uint64) ([]byte, error) {
	for n > 0 {
		chunk := min(n, 64<<10)
		off := len(dst)
		dst = append(dst, make([]byte, chunk)...)
		if err := c.full(dst[off:]); err != nil {
			return dst, err
		}
		n -= chunk
	}
	return dst, nil
}

var errTruncated = errors.New("partition data file is truncated")

// readKV decodes a partition data file of partition p, calling fn for each record with its key
// in the current storage format, and returns the applied lsn from its header. fn's slices are
// only valid during the call. The checksum is verified at the end, so callers must not treat
// the data as valid before readKV returns nil.
func readKV(r *bufio.Reader, p uint16, fn func(k, v []byte) error) (uint64, error) {
	cr := &crcReader{r: r, src: r, crc: crc32.New(castagnoli)}
	eof := func(err error) error {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return errTruncated
		}
		return err
	}
	hdr := make([]byte, kvHeaderLen)
	if err := cr.full(hdr); err != nil {
		return 0, eof(err)
	}
	if string(hdr[:8]) != kvMagic {
		return 0, errors.New("not a partition data file (bad magic)")
	}
	version := binary.BigEndian.Uint32(hdr[8:])
	if version < 1 || version > kvFormatVersion {
		return 0, fmt.Errorf("partition data file format %d is not supported (this release reads 1 to %d)", version, kvFormatVersion)
	}
	if got := binary.BigEndian.Uint16(hdr[12:]); got != p {
		return 0, fmt.Errorf("partition data file holds partition %d, not %d", got, p)
	}
	lsn := binary.BigEndian.Uint64(hdr[14:])
	start, end := storage.PartitionSpan(p)
	var key, prev, val []byte
	var n uint64
	for {
		kl, err := binary.ReadUvarint(cr)
		if err != nil {
			return 0, eof(err)
		}
		if kl == 0 {
			break
		}
		if kl > maxKVKeyLen {
			return 0, fmt.Errorf("record %d: key length %d exceeds %d", n, kl, maxKVKeyLen)
		}
		if key, err = cr.readN(key[:0], kl); err != nil {
			return 0, eof(err)
		}
		if bytes.Compare(key, start) < 0 || bytes.Compare(key, end) >= 0 {
			return 0, fmt.Errorf("record %d: key %x lies outside partition %d", n, key, p)
		}
		if n > 0 && bytes.Compare(key, prev) <= 0 {
			return 0, fmt.Errorf("record %d: keys are not in ascending order", n)
		}
		vl, err := binary.ReadUvarint(cr)
		if err != nil {
			return 0, eof(err)
		}
		if vl > maxKVValueLen {
			return 0, fmt.Errorf("record %d: value length %d exceeds %d", n, vl, maxKVValueLen)
		}
		if val, err = cr.readN(val[:0], vl); err != nil {
			return 0, eof(err)
		}
		k := key
		if version == 1 {
			k, _ = storage.UpgradeKeyV1(key)
		}
		if err := fn(k, val); err != nil {
			return 0, err
		}
		prev = append(prev[:0], key...)
		n++
	}
	var tail [12]byte
	if err := cr.full(tail[:8]); err != nil {
		return 0, eof(err)
	}
	want := cr.crc.Sum32()
	if _, err := io.ReadFull(r, tail[8:]); err != nil {
		return 0, eof(err)
	}
	if got := binary.BigEndian.Uint64(tail[:8]); got != n {
		return 0, fmt.Errorf("partition data file says %d records, found %d", got, n)
	}
	if got := binary.BigEndian.Uint32(tail[8:]); got != want {
		return 0, fmt.Errorf("partition data file fails its CRC-32C (%08x, expected %08x)", got, want)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return 0, errors.New("partition data file has trailing bytes")
	}
	return lsn, nil
}

// Digest summarises a partition's stored state.
type Digest struct {
	Partition uint16 `json:"partition"`
	Applied   uint64 `json:"applied"`
	Keys      int    `json:"keys"`
	SHA256    string `json:"sha256"`
}

// DigestPartition hashes every key and value of partition p, read from one consistent view.
func DigestPartition(db *storage.DB, p uint16) (Digest, error) {
	snap := db.NewSnapshot()
	defer snap.Close()
	d := Digest{Partition: p}
	if v, ok, err := storage.GetCopy(snap, appliedKey(p)); err != nil {
		return d, err
	} else if ok && len(v) == 8 {
		d.Applied = binary.BigEndian.Uint64(v)
	}
	start, end := storage.PartitionSpan(p)
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return d, err
	}
	defer it.Close()
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return d, err
		}
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(it.Key())))])
		h.Write(it.Key())
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(v)))])
		h.Write(v)
		d.Keys++
	}
	if err := it.Error(); err != nil {
		return d, err
	}
	d.SHA256 = hex.EncodeToString(h.Sum(nil))
	return d, nil
}
