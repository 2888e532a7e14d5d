package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// s3Store talks to an S3-compatible service. Object keys are prefixed with the
// destination's prefix.
type s3Store struct {
	client  *minio.Client
	bucket  string
	prefix  string // "" or "a/b/" (with trailing slash)
	secrets []string
}

// multipartPartSize matches Restate's 5 MiB upload chunks (the S3 minimum part size).
const multipartPartSize = 5 << 20

func newS3Store(d *Destination) (*s3Store, error) {
	o := d.s3
	endpoint, secure := "s3.amazonaws.com", true
	lookup := minio.BucketLookupAuto
	if o.EndpointURL != "" {
		u, err := url.Parse(o.EndpointURL)
		if err != nil || u.Host == "" {
			return nil, errors.New("snapshot: invalid aws-endpoint-url")
		}
		endpoint, secure = u.Host, u.Scheme == "https"
		// Custom endpoints (MinIO, versitygw, ...) rarely have wildcard DNS for buckets.
		lookup = minio.BucketLookupPath
	}
	var creds *credentials.Credentials
	if o.AccessKeyID != "" {
		creds = credentials.NewStaticV4(o.AccessKeyID, o.SecretAccessKey, o.SessionToken)
	} else {
		// No explicit or environment keys: shared credentials file (AWS_PROFILE) and
		// instance roles, as the AWS SDKs would do.
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.FileAWSCredentials{},
			&credentials.IAM{},
		})
	}
	c, err := minio.New(endpoint, &minio.Options{
		Creds:        creds,
		Secure:       secure,
		Region:       o.Region,
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot: create s3 client for %s: %w", endpoint, err)
	}
	prefix := d.prefix
	if prefix != "" {
		prefix += "/"
	}
	return &s3Store{client: c, bucket: d.bucket, prefix: prefix, secrets: o.secrets()}, nil
}

// scrub removes credential values from an error message; some services echo the access
// key id back in their error responses.
func (s *s3Store) scrub(op, key string, err error) error {
	msg := err.Error()
	for _, sec := range s.secrets {
		msg = strings.ReplaceAll(msg, sec, redacted)
	}
	return fmt.Errorf("snapshot: s3 %s s3://%s/%s%s: %s", op, s.bucket, s.prefix, key, msg)
}

func (s *s3Store) put(ctx context.Context, key string, r io.Reader, size int64) error {
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+key, r, size, minio.PutObjectOptions{
		PartSize:    multipartPartSize,
		ContentType: "application/octet-stream",
	})
	if err != nil {
		return s.scrub("put", key, err)
	}
	return nil
}

func (s *s3Store) get(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, err := s.client.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.scrub("get", key, err)
	}
	// GetObject is lazy; Stat surfaces a missing key before the caller starts reading.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil, errNotFound
		}
		return nil, s.scrub("get", key, err)
	}
	return obj, nil
}

func (s *s3Store) list(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, s.scrub("list", prefix, obj.Err)
		}
		keys = append(keys, strings.TrimPrefix(obj.Key, s.prefix))
	}
	return keys, nil
}

func (s *s3Store) delete(ctx context.Context, key string) error {
	if err := s.client.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{}); err != nil {
		return s.scrub("delete", key, err)
	}
	return nil
}
