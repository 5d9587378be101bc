package sqlitedb_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/runnel-io/runnel/flows/sqlitedb"
)

// write opens the file at path, writes a row and reads it back through a
// second, read-only connection, keeping both open so that the -wal and
// -shm files exist.
func write(t *testing.T, path string) {
	t.Helper()
	db, err := sqlitedb.Open(path, sqlitedb.Options{Synchronous: "FULL", BusyTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS t (v TEXT); INSERT INTO t VALUES ('payload')`); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode %q, %v; want wal", mode, err)
	}
	r, err := sqlitedb.Open(path, sqlitedb.Options{BusyTimeout: 5 * time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	var n int
	if err := r.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("read back %d rows, %v", n, err)
	}
	if _, err := r.Exec(`INSERT INTO t VALUES ('x')`); err == nil {
		t.Fatal("a read-only connection wrote")
	}
}

func modes(t *testing.T, path string) map[string]fs.FileMode {
	t.Helper()
	out := map[string]fs.FileMode{}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%v", err)
		}
		out[filepath.Base(p)] = fi.Mode().Perm()
	}
	return out
}

// TestOpenRelativePathPrivateFiles: a relative path ("d/runnel.db", as
// "runnel run --data d" makes) opens the file in the working directory,
// and the database and its -wal and -shm files are created 0600 even with
// a umask of 0; an existing 0644 file and WAL are narrowed to 0600.
func TestOpenRelativePathPrivateFiles(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	if err := os.Mkdir("d", 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, "d/runnel.db")
	if _, err := os.Stat(filepath.Join(dir, "d", "runnel.db")); err != nil {
		t.Fatalf("the database is not in the working directory's d/: %v", err)
	}
	for name, m := range modes(t, filepath.Join(dir, "d", "runnel.db")) {
		if m != 0o600 {
			t.Errorf("%s created with mode %o, want 600", name, m)
		}
	}

	// A file made by an older Runnel, readable by all.
	old2 := filepath.Join(dir, "old.db")
	write(t, old2)
	for _, p := range []string{old2, old2 + "-wal", old2 + "-shm"} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(t, old2)
	for name, m := range modes(t, old2) {
		if m != 0o600 {
			t.Errorf("existing %s left with mode %o, want 600", name, m)
		}
	}
}

func TestDSN(t *testing.T) {
	for _, c := range []struct {
		path string
		o    sqlitedb.Options
		want string
	}{
		{"/var/lib/runnel/runnel.db", sqlitedb.Options{Synchronous: "NORMAL", BusyTimeout: 10 * time.Second},
			"file:///var/lib/runnel/runnel.db?_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=journal_mode(WAL)&_txlock=immediate"},
		{"/a b/x?y#z%/runnel.db", sqlitedb.Options{Synchronous: "FULL", BusyTimeout: 5 * time.Second, ForeignKeys: true, ReadOnly: true},
			"file:///a%20b/x%3Fy%23z%25/runnel.db?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_query_only=1"},
	} {
		if got := sqlitedb.DSN(c.path, c.o); got != c.want {
			t.Errorf("DSN(%q)\n got %s\nwant %s", c.path, got, c.want)
		}
	}
}
