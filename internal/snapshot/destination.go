// Package snapshot stores partition snapshots in an object store (S3-compatible or a local
// directory) using Restate's repository layout:
//
//	<prefix>/<partition-id>/latest.json
//	<prefix>/<partition-id>/lsn_<20-digit lsn>-<snapshot-id>/metadata.json
//	<prefix>/<partition-id>/lsn_<20-digit lsn>-<snapshot-id>/<data files>
//
// latest.json is the only object ever overwritten and it is written last, so a reader that
// follows it never sees a half-uploaded snapshot. Every data file carries a SHA-256 in
// metadata.json, so corruption is detected on download and the reader falls back to an older
// snapshot.
package snapshot

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// S3Options are the object-store settings of Restate's [worker.snapshots] section.
// Empty fields fall back to the standard AWS environment variables.
type S3Options struct {
	EndpointURL     string // aws-endpoint-url
	Region          string // aws-region
	AccessKeyID     string // aws-access-key-id
	SecretAccessKey string // aws-secret-access-key
	SessionToken    string // aws-session-token
	AllowHTTP       bool   // aws-allow-http
}

const redacted = "[redacted]"

// String never shows credentials, so options can be logged safely.
func (o S3Options) String() string {
	return fmt.Sprintf("{endpoint=%q region=%q access-key-id=%s secret-access-key=%s session-token=%s allow-http=%t}",
		o.EndpointURL, o.Region, mask(o.AccessKeyID), mask(o.SecretAccessKey), mask(o.SessionToken), o.AllowHTTP)
}

// GoString keeps %#v from printing credentials as well.
func (o S3Options) GoString() string { return "snapshot.S3Options" + o.String() }

func mask(s string) string {
	if s == "" {
		return `""`
	}
	return redacted
}

// secrets lists the credential values that must never leak into messages.
func (o S3Options) secrets() []string {
	var out []string
	for _, s := range []string{o.AccessKeyID, o.SecretAccessKey, o.SessionToken} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Destination is a parsed worker.snapshots.destination.
type Destination struct {
	scheme string // "s3" or "file"
	bucket string // s3 only
	prefix string // s3: key prefix without leading/trailing slash
	dir    string // file: absolute directory
	s3     S3Options
}

// Scheme is "s3" or "file".
func (d Destination) Scheme() string { return d.scheme }

// String renders the destination URL; credentials are not part of it.
func (d Destination) String() string {
	if d.scheme == "file" {
		return "file://" + d.dir
	}
	if d.prefix == "" {
		return "s3://" + d.bucket
	}
	return "s3://" + d.bucket + "/" + d.prefix
}

// GoString keeps %#v from printing credentials.
func (d Destination) GoString() string { return "snapshot.Destination(" + d.String() + ")" }

// ParseDestination parses `s3://bucket[/prefix]` or `file:///absolute/path`. For s3, empty
// fields of s3 are filled from AWS_ENDPOINT_URL, AWS_REGION (or AWS_DEFAULT_REGION),
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_ALLOW_HTTP.
func ParseDestination(dest string, s3 S3Options) (*Destination, error) {
	return parseDestination(dest, s3, os.LookupEnv)
}

func parseDestination(dest string, s3 S3Options, lookupEnv func(string) (string, bool)) (*Destination, error) {
	u, err := url.Parse(dest)
	if err != nil {
		// The url error would echo the input, which may carry credentials.
		return nil, errors.New("snapshot: destination is not a valid URL (expected s3://bucket/prefix or file:///path)")
	}
	if u.User != nil {
		return nil, errors.New("snapshot: destination must not embed credentials; use the aws-* settings")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("snapshot: destination must not have a query or fragment")
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("snapshot: file destination must be file:///absolute/path, got host %q", u.Host)
		}
		if u.Path == "" || !filepath.IsAbs(u.Path) {
			return nil, errors.New("snapshot: file destination needs an absolute path (file:///path)")
		}
		return &Destination{scheme: "file", dir: filepath.Clean(u.Path)}, nil
	case "s3":
		if u.Host == "" {
			return nil, errors.New("snapshot: s3 destination needs a bucket (s3://bucket/prefix)")
		}
		prefix := strings.Trim(u.Path, "/")
		for _, seg := range strings.Split(prefix, "/") {
			if prefix != "" && (seg == "" || seg == "." || seg == "..") {
				return nil, fmt.Errorf("snapshot: s3 destination prefix %q has an empty or relative segment", prefix)
			}
		}
		opts, err := withEnvFallback(s3, lookupEnv)
		if err != nil {
			return nil, err
		}
		if opts.EndpointURL != "" {
			ep, err := url.Parse(opts.EndpointURL)
			if err != nil || ep.Host == "" || (ep.Scheme != "http" && ep.Scheme != "https") || ep.User != nil {
				return nil, errors.New("snapshot: aws-endpoint-url must look like https://host[:port] (without credentials)")
			}
			if ep.Scheme == "http" && !opts.AllowHTTP {
				return nil, fmt.Errorf("snapshot: aws-endpoint-url %s uses plain http; set aws-allow-http = true to permit it", ep.Host)
			}
		}
		if (opts.AccessKeyID == "") != (opts.SecretAccessKey == "") {
			return nil, errors.New("snapshot: aws-access-key-id and aws-secret-access-key must be set together")
		}
		return &Destination{scheme: "s3", bucket: u.Host, prefix: prefix, s3: opts}, nil
	case "":
		return nil, errors.New("snapshot: destination needs a scheme (s3:// or file://)")
	default:
		return nil, fmt.Errorf("snapshot: unsupported destination scheme %q (expected s3 or file)", u.Scheme)
	}
}

func withEnvFallback(o S3Options, lookupEnv func(string) (string, bool)) (S3Options, error) {
	fill := func(field *string, names ...string) {
		if *field != "" {
			return
		}
		for _, n := range names {
			if v, ok := lookupEnv(n); ok && v != "" {
				*field = v
				return
			}
		}
	}
	fill(&o.EndpointURL, "AWS_ENDPOINT_URL", "AWS_ENDPOINT")
	fill(&o.Region, "AWS_REGION", "AWS_DEFAULT_REGION")
	// Credentials come as a set: mixing a configured key id with an env secret would be a
	// confusing half-configuration, so the env is consulted only when none are configured.
	if o.AccessKeyID == "" && o.SecretAccessKey == "" && o.SessionToken == "" {
		fill(&o.AccessKeyID, "AWS_ACCESS_KEY_ID")
		fill(&o.SecretAccessKey, "AWS_SECRET_ACCESS_KEY")
		fill(&o.SessionToken, "AWS_SESSION_TOKEN")
	}
	if !o.AllowHTTP {
		if v, ok := lookupEnv("AWS_ALLOW_HTTP"); ok && v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, fmt.Errorf("snapshot: AWS_ALLOW_HTTP=%q is not a boolean", v)
			}
			o.AllowHTTP = b
		}
	}
	return o, nil
}
