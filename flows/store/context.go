package store

import (
	"context"
	"encoding/json"
	"fmt"
)

// ContextEntry is one persistent context value.
type ContextEntry struct {
	// Scope says whose value it is: "global", "flow:<tab id>" or
	// "node:<node id>". The store does not interpret it.
	Scope string `json:"scope"`
	// Key is the value's name within its scope.
	Key string `json:"key"`
	// Value is the value as JSON. In WriteContext, an empty Value (nil)
	// deletes the key; JSON null is stored as a value.
	Value json.RawMessage `json:"value"`
}

// LoadContext returns every stored context value, sorted by scope and key.
func (s *Store) LoadContext(ctx context.Context) ([]ContextEntry, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT scope, key, value FROM context_entries ORDER BY scope, key`)
	if err != nil {
		return nil, fmt.Errorf("store: load context: %w", err)
	}
	defer rows.Close()
	out := []ContextEntry{}
	for rows.Next() {
		var e ContextEntry
		var v []byte
		if err := rows.Scan(&e.Scope, &e.Key, &v); err != nil {
			return nil, fmt.Errorf("store: load context: %w", err)
		}
		e.Value = v
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: load context: %w", err)
	}
	return out, nil
}

// WriteContext stores a batch of context values in one transaction: each
// entry with a Value sets its key, each entry without one deletes its key,
// in order (so the last entry for a key wins). A Value that is not valid
// JSON fails the whole batch before anything is written.
func (s *Store) WriteContext(ctx context.Context, entries []ContextEntry) (err error) {
	for _, e := range entries {
		if len(e.Value) > 0 && !json.Valid(e.Value) {
			return fmt.Errorf("store: write context: %s %q: value is not valid JSON", e.Scope, e.Key)
		}
	}
	if len(entries) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: write context: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	set, err := tx.PrepareContext(ctx, `INSERT INTO context_entries (scope, key, value) VALUES (?, ?, ?)
		ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value`)
	if err != nil {
		return fmt.Errorf("store: write context: %w", err)
	}
	defer set.Close()
	del, err := tx.PrepareContext(ctx, `DELETE FROM context_entries WHERE scope = ? AND key = ?`)
	if err != nil {
		return fmt.Errorf("store: write context: %w", err)
	}
	defer del.Close()
	for _, e := range entries {
		if len(e.Value) == 0 {
			_, err = del.ExecContext(ctx, e.Scope, e.Key)
		} else {
			_, err = set.ExecContext(ctx, e.Scope, e.Key, []byte(e.Value))
		}
		if err != nil {
			return fmt.Errorf("store: write context: %s %q: %w", e.Scope, e.Key, err)
		}
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("store: write context: commit: %w", err)
	}
	return nil
}
