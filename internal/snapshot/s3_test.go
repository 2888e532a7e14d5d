package snapshot

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/restatego/restate/internal/testharness"
)

func TestS3Repository(t *testing.T) {
	gw := testharness.StartObjectStore(t)
	ctx := context.Background()
	admin := gw.Client
	gw.MakeBucket("snaps")
	opts := S3Options{EndpointURL: gw.Endpoint, Region: testharness.ObjectStoreRegion, AccessKeyID: testharness.ObjectStoreAccessKey,
		SecretAccessKey: testharness.ObjectStoreSecretKey, AllowHTTP: true}
	d, err := ParseDestination("s3://snaps/cluster/snapshots", opts)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(d, Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("contract", func(t *testing.T) {
		repoContract(t, r, func(key string, data []byte) {
			if _, err := admin.PutObject(ctx, "snaps", "cluster/snapshots/"+key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		})
		// Objects really live under the prefix in Restate's layout.
		if _, err := admin.StatObject(ctx, "snaps", "cluster/snapshots/7/latest.json", minio.StatObjectOptions{}); err != nil {
			t.Fatalf("latest.json not at <prefix>/<partition>/latest.json: %v", err)
		}
	})

	t.Run("multipart and retention", func(t *testing.T) {
		// Larger than one 5 MiB part, so the upload goes multipart.
		dir := t.TempDir()
		big := make([]byte, 11<<20+123)
		if _, err := rand.Read(big); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "big.kv"), big, 0o644); err != nil {
			t.Fatal(err)
		}
		var ms []*Manifest
		for i := range 3 {
			m, err := r.Put(ctx, meta(9, uint64(10+i)), dir)
			if err != nil {
				t.Fatal(err)
			}
			ms = append(ms, m)
		}
		out := t.TempDir()
		got, err := r.Fetch(ctx, 9, "c1", "fp1", out)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(out, "big.kv"))
		if err != nil || got.SnapshotID != ms[2].SnapshotID || !bytes.Equal(b, big) {
			t.Fatalf("big fetch: %v, id %s", err, got.SnapshotID)
		}
		if err := r.Prune(ctx, 9, 2); err != nil {
			t.Fatal(err)
		}
		list, err := r.List(ctx, 9)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].SnapshotID != ms[2].SnapshotID || list[1].SnapshotID != ms[1].SnapshotID {
			t.Fatalf("after prune: %v", list)
		}
		n := 0
		for obj := range admin.ListObjects(ctx, "snaps", minio.ListObjectsOptions{Prefix: "cluster/snapshots/9/" + ms[0].Path, Recursive: true}) {
			if obj.Err == nil {
				n++
			}
		}
		if n != 0 {
			t.Fatalf("%d objects of the pruned snapshot remain", n)
		}
	})

	t.Run("bad credentials are not echoed", func(t *testing.T) {
		bad := opts
		bad.SecretAccessKey = "wrong-secret-value-xyz"
		d, err := ParseDestination("s3://snaps/cluster/snapshots", bad)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Open(d, Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Fetch(ctx, 7, "c1", "fp1", t.TempDir())
		if err == nil || errors.Is(err, ErrNoSnapshot) {
			t.Fatalf("fetch with wrong secret: %v", err)
		}
		msg := fmt.Sprint(err)
		if strings.Contains(msg, "wrong-secret-value-xyz") || strings.Contains(msg, testharness.ObjectStoreAccessKey) {
			t.Fatalf("error leaks a credential: %s", msg)
		}
	})
}
