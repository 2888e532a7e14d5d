package snapshot

import (
	"fmt"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseDestination(t *testing.T) {
	d, err := parseDestination("s3://bucket/some/prefix/", S3Options{Region: "local"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if d.Scheme() != "s3" || d.bucket != "bucket" || d.prefix != "some/prefix" || d.String() != "s3://bucket/some/prefix" {
		t.Fatalf("parsed %#v", d)
	}
	d, err = parseDestination("file:///var/snaps/", S3Options{}, env(nil))
	if err != nil || d.Scheme() != "file" || d.dir != "/var/snaps" || d.String() != "file:///var/snaps" {
		t.Fatalf("file: %v %v", d, err)
	}
	for _, bad := range []string{
		"", "bucket/prefix", "gs://b/p", "s3:///p", "file://relative/x", "file:rel",
		"s3://b/a//c", "s3://b/../x", "s3://b/p?region=x", "s3://AKIA:SECRET@b/p",
	} {
		_, err := parseDestination(bad, S3Options{}, env(nil))
		if err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("error echoes a secret: %v", err)
		}
	}
}

func TestS3OptionsEnvFallbackAndHTTP(t *testing.T) {
	e := env(map[string]string{
		"AWS_ACCESS_KEY_ID": "envkey", "AWS_SECRET_ACCESS_KEY": "envsecret", "AWS_SESSION_TOKEN": "envtok",
		"AWS_REGION": "eu-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_ALLOW_HTTP": "true",
	})
	d, err := parseDestination("s3://b", S3Options{}, e)
	if err != nil {
		t.Fatal(err)
	}
	if d.s3.AccessKeyID != "envkey" || d.s3.SecretAccessKey != "envsecret" || d.s3.SessionToken != "envtok" || d.s3.Region != "eu-1" || !d.s3.AllowHTTP || d.s3.EndpointURL != "http://127.0.0.1:9000" {
		t.Fatalf("env fallback: %s", d.s3)
	}
	// Configured credentials win as a whole over the environment.
	d, err = parseDestination("s3://b", S3Options{AccessKeyID: "cfgkey", SecretAccessKey: "cfgsecret"}, e)
	if err != nil {
		t.Fatal(err)
	}
	if d.s3.AccessKeyID != "cfgkey" || d.s3.SecretAccessKey != "cfgsecret" || d.s3.SessionToken != "" {
		t.Fatalf("configured creds: %s", d.s3)
	}
	// Plain http needs aws-allow-http.
	if _, err := parseDestination("s3://b", S3Options{EndpointURL: "http://minio:9000"}, env(nil)); err == nil || !strings.Contains(err.Error(), "aws-allow-http") {
		t.Fatalf("http without allow: %v", err)
	}
	if _, err := parseDestination("s3://b", S3Options{EndpointURL: "http://minio:9000", AllowHTTP: true}, env(nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := parseDestination("s3://b", S3Options{AccessKeyID: "only-id"}, env(nil)); err == nil {
		t.Fatal("key id without secret accepted")
	}
	if _, err := parseDestination("s3://b", S3Options{}, env(map[string]string{"AWS_ALLOW_HTTP": "maybe"})); err == nil {
		t.Fatal("bad AWS_ALLOW_HTTP accepted")
	}
}

func TestCredentialsNeverPrinted(t *testing.T) {
	o := S3Options{EndpointURL: "https://s3.example", Region: "r", AccessKeyID: "AKIDSECRETID", SecretAccessKey: "TOPSECRETKEY", SessionToken: "SESSIONTOKENX"}
	d, err := parseDestination("s3://b/p", o, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		fmt.Sprint(o), fmt.Sprintf("%v %+v %#v %s", o, o, o, o),
		fmt.Sprint(d), fmt.Sprintf("%v %+v %#v %s", d, d, d, d), fmt.Sprintf("%+v", *d),
	} {
		for _, secret := range []string{"AKIDSECRETID", "TOPSECRETKEY", "SESSIONTOKENX"} {
			if strings.Contains(s, secret) {
				t.Fatalf("credential %q printed in %q", secret, s)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(o), redacted) {
		t.Fatalf("String() = %q, want redaction marker", o)
	}
}
