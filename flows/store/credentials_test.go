package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/flows"
)

const credFlows = `[
  {"id":"b1","type":"mqtt-broker","broker":"cloud.example","credentials":{"user":"alice","password":"pw-Zq81-never-stored"}},
  {"id":"t1","type":"tab"}
]`

func TestRevisionCredentialsEncrypted(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	doc := parse(t, credFlows)

	if _, err := s.Save(ctx, doc, SaveOptions{}); err == nil || !strings.Contains(err.Error(), "no credential secret") {
		t.Fatalf("Save with credentials and no secret: %v", err)
	}
	s.SetCredentialSecret("store secret")
	r1, err := s.Save(ctx, doc, SaveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Revision(ctx, r1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Credentials, doc.Credentials) {
		t.Fatalf("credentials read back %v, want %v", got.Credentials, doc.Credentials)
	}
	if strings.Contains(marshal(t, got), "pw-Zq81") {
		t.Fatal("the stored document holds the password")
	}

	// A credentials-only change is a change, and each revision keeps its own.
	rotated := doc.Clone()
	rotated.Credentials["b1"]["password"] = "pw-rotated-never-stored"
	r2, err := s.Save(ctx, rotated, SaveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Summary != "1 changed" {
		t.Fatalf("summary %q, want \"1 changed\"", r2.Summary)
	}
	cur, _, err := s.Current(ctx)
	if err != nil || cur.Credentials["b1"]["password"] != "pw-rotated-never-stored" {
		t.Fatalf("Current: %v, %v", cur.Credentials, err)
	}
	old, _, _ := s.Revision(ctx, r1.ID)
	if old.Credentials["b1"]["password"] != "pw-Zq81-never-stored" {
		t.Fatalf("revision 1 credentials %v", old.Credentials)
	}

	// Nothing in the database file (WAL included) holds a password.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	matches, _ := filepath.Glob(path + "*")
	for _, f := range matches {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, pw := range []string{"pw-Zq81", "pw-rotated"} {
			if bytes.Contains(b, []byte(pw)) {
				t.Fatalf("%s holds %q", f, pw)
			}
		}
	}

	// Another secret cannot read them, and says so.
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	s2.SetCredentialSecret("not the store secret")
	_, _, err = s2.Current(ctx)
	if !errors.Is(err, flows.ErrCredentialSecret) || !strings.Contains(err.Error(), "RUNNEL_CREDENTIAL_SECRET") {
		t.Fatalf("wrong secret: %v", err)
	}
	// Saving over credentials that no longer decrypt still works and does
	// not count them as changed.
	r3, err := s2.Save(ctx, rotated, SaveOptions{})
	if err != nil || r3.Summary != "no changes" {
		t.Fatalf("save with a new secret: %+v, %v", r3, err)
	}
	if cur, _, err := s2.Current(ctx); err != nil || cur.Credentials["b1"]["user"] != "alice" {
		t.Fatalf("Current after the new secret: %v, %v", cur, err)
	}
}

// A database from before credentials (schema version 1) migrates, and its
// revisions read back without credentials.
func TestMigrateToCredentials(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	if _, err := s.Save(ctx, parse(t, `[{"id":"t1","type":"tab"}]`), SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`ALTER TABLE flow_revisions DROP COLUMN credentials`, `UPDATE schema_versions SET version = 1`} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	doc, rev, err := s2.Current(ctx)
	if err != nil || rev.ID != 1 || doc.Credentials != nil {
		t.Fatalf("Current after migration: %v %+v %v", doc, rev, err)
	}
}
