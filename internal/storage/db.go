// Package storage owns the node's Pebble database and the byte layout of every key in it.
//
// One database per node holds three key spaces, each behind its own first byte:
//
//	0x01 partition data:  0x01 | partition id (u16 BE) | table byte | table key
//	0x02 partition logs:  0x02 | partition id (u16 BE) | lsn (u64 BE)
//	0x03 local metadata:  0x03 | key
//
// Everything a partition owns is one contiguous span, so a snapshot of a partition is a scan of
// its span, and a wipe is a range delete.
package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/cockroachdb/pebble/v2"
)

// FormatVersion is written on first open; a release refuses a directory written by a newer
// format it does not understand, and upgrades an older one in place when it opens it.
//
//	1: service names and object keys with a 16-bit length prefix (wrapped at 64 KiB)
//	2: the same, with 0xFFFF announcing a 64-bit length (LenPrefixed); see migrate.go
const FormatVersion = 2

var formatKey = []byte{0x00, 'f', 'o', 'r', 'm', 'a', 't'}

// DB is the node's storage engine.
type DB struct {
	*pebble.DB
	dir   string
	marks *durability
}

// Open opens (creating if needed) the database under dir.
func Open(dir string) (*DB, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", dir, err)
	}
	cache := pebble.NewCache(256 << 20)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                64 << 20,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       24,
		Logger:                      quietLogger{},
	}
	marks := newDurability(dir)
	// The check runs on a read-only view first: opening for writing would replay a damaged
	// log into new files and delete it, and a refusal must leave the directory as it found it
	// (the operator may still restore the missing file).
	if err := checkReadOnly(dir, opts, marks); err != nil {
		return nil, err
	}
	pdb, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, openError(dir, err)
	}
	db := &DB{DB: pdb, dir: dir, marks: marks}
	if err := db.checkFormat(); err != nil {
		pdb.Close()
		return nil, err
	}
	go db.marks.run()
	return db, nil
}

// checkReadOnly compares a read-only view of the database with its durability marks, when a
// marks file exists.
func checkReadOnly(dir string, opts *pebble.Options, marks *durability) error {
	if _, err := os.Stat(marks.path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	ro := *opts
	ro.ReadOnly = true
	ro.ErrorIfNotExists = true
	pdb, err := pebble.Open(dir, &ro)
	if errors.Is(err, pebble.ErrDBDoesNotExist) {
		return fmt.Errorf("%w: %s holds durability marks but no database: its files were deleted. %s", ErrDataLoss, dir, recoveryAdvice(dir))
	}
	if err != nil {
		return openError(dir, err)
	}
	defer pdb.Close()
	return marks.check(pdb, dir)
}

func openError(dir string, err error) error {
	if errors.Is(err, pebble.ErrCorruption) {
		return fmt.Errorf("%w: the database in %s is damaged: %v. %s", ErrDataLoss, dir, err, recoveryAdvice(dir))
	}
	return fmt.Errorf("storage: open %s: %w", dir, err)
}

// Close records the final durability marks and closes the database.
func (db *DB) Close() error {
	err := db.marks.close()
	if cerr := db.DB.Close(); err == nil {
		err = cerr
	}
	return err
}

// Dir is the directory holding the database.
func (db *DB) Dir() string { return db.dir }

func (db *DB) checkFormat() error {
	v, closer, err := db.Get(formatKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return db.Set(formatKey, binary.BigEndian.AppendUint32(nil, FormatVersion), pebble.Sync)
	}
	if err != nil {
		return fmt.Errorf("storage: read format version: %w", err)
	}
	if len(v) != 4 {
		closer.Close()
		return fmt.Errorf("storage: corrupt format version marker in %s", db.dir)
	}
	got := binary.BigEndian.Uint32(v)
	closer.Close()
	switch {
	case got > FormatVersion:
		return fmt.Errorf("storage: %s was written by a newer release (format %d, this release reads up to %d)", db.dir, got, FormatVersion)
	case got == 1:
		if _, err := db.upgradeFromV1(); err != nil {
			return fmt.Errorf("storage: upgrade %s from format 1: %w", db.dir, err)
		}
	case got == 0:
		return fmt.Errorf("storage: corrupt format version marker in %s (format 0)", db.dir)
	}
	return nil
}

// GetCopy returns a copy of the value at key, or nil and false when absent.
func GetCopy(r pebble.Reader, key []byte) ([]byte, bool, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte{}, v...)
	closer.Close()
	return out, true, nil
}

type quietLogger struct{}

func (quietLogger) Infof(format string, args ...any) {}
func (quietLogger) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: fatal: "+format+"\n", args...)
	os.Exit(1)
}
