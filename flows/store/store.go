// Package store keeps flow documents and persistent context in one SQLite
// database file (modernc.org/sqlite, pure Go): every deploy is a revision
// (time, user, deploy type, a summary of what changed, the whole document),
// the newest revision is the current flows, and context values of node, flow
// and global scope are stored by key.
//
// The database runs in WAL mode with synchronous=FULL: a Save or
// WriteContext that returned nil survives a crash of the process (SIGKILL)
// and, on a disk that honours fsync, a power loss; a crash at any moment
// leaves either the state before a transaction or the state after it, never
// a mix. Tables are prefixed
// (flow_, context_) and the schema version is kept per component, so other
// parts of Runnel can keep their own tables in the same file.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/runnel-io/runnel/flows/sqlitedb"
)

// ErrNotFound is returned, wrapped, for a revision that does not exist and
// by Current when no flows were ever saved.
var ErrNotFound = errors.New("store: not found")

// busyTimeoutMS is how long a statement waits for another connection's
// write lock (in this process or another) before failing with SQLITE_BUSY.
const busyTimeoutMS = 5000

// readConns bounds the pool of read-only connections.
const readConns = 4

// component names this package's schema in the schema_versions table.
const component = "flows"

// migrations are the schema changes in order; migrations[i] brings the
// schema from version i to i+1. Append only: never edit one that shipped.
var migrations = [][]string{
	{
		`CREATE TABLE flow_revisions (
			id          INTEGER PRIMARY KEY AUTOINCREMENT,
			time_ms     INTEGER NOT NULL,
			user        TEXT    NOT NULL,
			deploy_type TEXT    NOT NULL,
			summary     TEXT    NOT NULL,
			rev         TEXT    NOT NULL,
			nodes       INTEGER NOT NULL,
			flows       BLOB    NOT NULL
		)`,
		`CREATE TABLE context_entries (
			scope TEXT NOT NULL,
			key   TEXT NOT NULL,
			value BLOB NOT NULL,
			PRIMARY KEY (scope, key)
		) WITHOUT ROWID`,
	},
	{
		// The revision's node credentials, encrypted (flows_cred.json's
		// format); NULL when it has none.
		`ALTER TABLE flow_revisions ADD COLUMN credentials BLOB`,
	},
}

// Store is a SQLite database of flow revisions and persistent context.
// Its methods are safe for concurrent use, also by several processes on the
// same file. Create it with Open.
type Store struct {
	path string
	w    *sql.DB // one connection: every write transaction
	r    *sql.DB // read-only connections

	secrets *atomic.Pointer[[]string] // the credential secret, then older ones; nil until set
}

// Open opens the database file at path, creating it if it does not exist,
// and brings its schema up to date. The directory must exist. It fails if
// the file was written by a newer Runnel whose schema this one does not
// know.
func Open(ctx context.Context, path string) (*Store, error) {
	common := sqlitedb.Options{Synchronous: "FULL", BusyTimeout: busyTimeoutMS * time.Millisecond, ForeignKeys: true}
	w, err := sqlitedb.Open(path, common)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	s := &Store{path: path, w: w, secrets: new(atomic.Pointer[[]string])}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: read journal mode: %w", path, err)
	}
	if mode != "wal" {
		w.Close()
		return nil, fmt.Errorf("store: open %s: journal mode is %q, not wal (is the file system a network one?)", path, mode)
	}
	ro := common
	ro.ReadOnly = true
	r, err := sqlitedb.Open(path, ro)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(readConns)
	s.r = r
	return s, nil
}

// migrate creates the schema or applies the migrations it lacks, in one
// transaction.
func (s *Store) migrate(ctx context.Context) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", s.path, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_versions (
		component TEXT PRIMARY KEY,
		version   INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("store: open %s: create schema_versions: %w", s.path, err)
	}
	var version int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_versions WHERE component = ?`, component).Scan(&version)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: open %s: read schema version: %w", s.path, err)
	}
	if version > len(migrations) {
		return fmt.Errorf("store: open %s: schema version %d is newer than this program knows (%d)", s.path, version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		for _, stmt := range migrations[i] {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("store: open %s: migrate to schema version %d: %w", s.path, i+1, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_versions (component, version) VALUES (?, ?)
		ON CONFLICT (component) DO UPDATE SET version = excluded.version`, component, len(migrations)); err != nil {
		return fmt.Errorf("store: open %s: write schema version: %w", s.path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: open %s: commit schema: %w", s.path, err)
	}
	return nil
}

// Close closes the database. Calls in progress finish first.
func (s *Store) Close() error {
	err := errors.Join(s.r.Close(), s.w.Close())
	if err != nil {
		return fmt.Errorf("store: close %s: %w", s.path, err)
	}
	return nil
}
