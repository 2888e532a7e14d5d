package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// errNotFound is returned by objectStore.get for a missing key.
var errNotFound = errors.New("object not found")

// objectStore is the small slice of an object store the repository needs. Keys are
// slash-separated and relative to the destination's prefix.
type objectStore interface {
	put(ctx context.Context, key string, r io.Reader, size int64) error
	get(ctx context.Context, key string) (io.ReadCloser, error)
	// list returns every key below prefix (recursively), in no particular order.
	list(ctx context.Context, prefix string) ([]string, error)
	delete(ctx context.Context, key string) error
}

// fileStore keeps objects as files under a directory. Writes go to a temporary file that is
// renamed into place, so a replaced latest.json is never seen half-written. Like Restate's
// file:// repository it is not safe for concurrent writers on different hosts.
type fileStore struct{ root string }

const fileStoreTempPrefix = ".tmp-"

func (s *fileStore) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") {
		return "", fmt.Errorf("snapshot: invalid object key %q", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("snapshot: invalid object key %q", key)
		}
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

func (s *fileStore) put(ctx context.Context, key string, r io.Reader, _ int64) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("snapshot: create directory for %s: %w", key, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), fileStoreTempPrefix+"*")
	if err != nil {
		return fmt.Errorf("snapshot: write %s: %w", key, err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("snapshot: write %s: %w", key, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("snapshot: sync %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("snapshot: write %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("snapshot: publish %s: %w", key, err)
	}
	ok = true
	return syncDir(filepath.Dir(p))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	_ = d.Sync() // not supported everywhere; the rename is what matters
	return nil
}

func (s *fileStore) get(_ context.Context, key string) (io.ReadCloser, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: read %s: %w", key, err)
	}
	return f, nil
}

func (s *fileStore) list(ctx context.Context, prefix string) ([]string, error) {
	dir, err := s.path(strings.TrimSuffix(prefix, "/"))
	if err != nil {
		return nil, err
	}
	var keys []string
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if e.IsDir() || strings.HasPrefix(e.Name(), fileStoreTempPrefix) {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		keys = append(keys, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot: list %s: %w", prefix, err)
	}
	return keys, nil
}

func (s *fileStore) delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("snapshot: delete %s: %w", key, err)
	}
	// Drop directories left empty so pruned snapshots disappear from listings entirely.
	for d := filepath.Dir(p); d != s.root && strings.HasPrefix(d, s.root); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break
		}
	}
	return nil
}

// ctxReader stops a long copy once the context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
