// Package sqlitedb opens Runnel's SQLite database file (runnel.db): the one
// place that turns a path into a driver DSN, so that the flow store, the
// broker's persistence and the store-and-forward queues open the same file
// the same way.
//
// Open makes the path absolute (a relative one is read against the working
// directory, never as a URL host), escapes it into a file: URI, sets the
// pragmas the caller asks for, and keeps the file private: the database
// holds message payloads and credentials, so it is created with mode 0600
// whatever the umask, and an existing file, WAL or shared-memory file that
// others may read is narrowed to its owner. SQLite gives the -wal and -shm
// files it creates the database file's mode.
//
// It is a leaf package (it imports only the driver), so that broker,
// flows/store and nodes/internal/outbox can all use it.
package sqlitedb

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Mode is the permission of the database file and its -wal and -shm files.
const Mode fs.FileMode = 0o600

// Options are the connection settings of one user of the file.
type Options struct {
	// Synchronous is the synchronous pragma: "FULL" (a commit survives
	// a power loss) or "NORMAL" (a commit survives a crash of the
	// process). Empty leaves SQLite's default (FULL).
	Synchronous string
	// BusyTimeout is how long a statement waits for another
	// connection's lock before failing with SQLITE_BUSY.
	BusyTimeout time.Duration
	// ForeignKeys enforces foreign key constraints.
	ForeignKeys bool
	// ReadOnly opens query-only connections, which neither switch the
	// journal mode nor take write locks; the file must exist. Otherwise
	// the connection uses WAL and begins transactions with IMMEDIATE, so
	// that a writer never fails half-way on a lock upgrade.
	ReadOnly bool
}

// Open opens the database file at path (creating it, mode 0600, when it
// does not exist; its directory must exist) with the settings of o.
func Open(path string, o Options) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	if !o.ReadOnly {
		if err := private(abs); err != nil {
			return nil, fmt.Errorf("sqlite %s: %w", path, err)
		}
	}
	db, err := sql.Open("sqlite", DSN(abs, o))
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return db, nil
}

// DSN returns the driver's data source name for the absolute path abs.
func DSN(abs string, o Options) string {
	// A file: URI, so that the driver keeps the query; the path escaped,
	// so that ?, # and % in it are not taken for URI syntax, and rooted,
	// so that no part of it is taken for a host.
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive: file:///C:/...
	}
	u := url.URL{Scheme: "file", Path: p}
	q := []string{fmt.Sprintf("_pragma=busy_timeout(%d)", o.BusyTimeout.Milliseconds())}
	if o.ForeignKeys {
		q = append(q, "_pragma=foreign_keys(1)")
	}
	if o.Synchronous != "" {
		q = append(q, "_pragma=synchronous("+o.Synchronous+")")
	}
	if o.ReadOnly {
		q = append(q, "_query_only=1")
	} else {
		q = append(q, "_pragma=journal_mode(WAL)", "_txlock=immediate")
	}
	return u.String() + "?" + strings.Join(q, "&")
}

// private creates the database file with Mode if it does not exist and
// takes the group's and others' permissions away from an existing one and
// from its -wal and -shm files.
func private(abs string) error {
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, Mode)
	switch {
	case err == nil:
		f.Close()
		// O_CREAT's mode is masked by the umask; set it exactly.
		return os.Chmod(abs, Mode)
	case !errors.Is(err, fs.ErrExist):
		return err
	}
	for _, p := range []string{abs, abs + "-wal", abs + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			continue // no such file yet
		}
		if m := fi.Mode().Perm(); m&0o077 != 0 {
			// Best effort: a file of another user stays as it is (its
			// owner chose).
			_ = os.Chmod(p, m&^0o077)
		}
	}
	return nil
}
