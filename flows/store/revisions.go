package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/runnel-io/runnel/flows"
)

// DefaultLimit is how many revisions Revisions returns when asked for
// limit <= 0, and MaxLimit the most it returns at once.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// Revision describes one saved deploy. The flow document itself is returned
// beside it by Current and Revision.
type Revision struct {
	// ID numbers revisions in the order they were saved, from 1.
	ID int64 `json:"id"`
	// Time is when the revision was saved, in UTC to the millisecond.
	Time time.Time `json:"time"`
	// User is who deployed it; empty without authentication.
	User string `json:"user"`
	// DeployType is the deploy type (full, flows, nodes, reload).
	DeployType string `json:"deployType"`
	// Summary says what changed since the revision before, as
	// flows.Diff.Summary does ("1 added, 2 changed"), after the note the
	// deploy gave, if any ("rollback to #3: 1 changed").
	Summary string `json:"summary"`
	// Rev is the document's rev (flows.Document.Rev).
	Rev string `json:"rev"`
	// Nodes counts the document's objects: nodes, tabs and config nodes.
	Nodes int `json:"nodes"`
}

// SaveOptions describe a deploy for Save.
type SaveOptions struct {
	// User is who deploys; empty without authentication.
	User string
	// DeployType is the deploy type; "full" when empty.
	DeployType string
	// Note, when set, starts the summary, such as "rollback to #3".
	Note string
}

// SetCredentialSecret sets the secret with which revisions keep their
// credentials (flows.Document.Credentials) encrypted, in Node-RED's
// flows_cred.json format. Without one, Save refuses a document with
// credentials, and reading a revision that has some fails. Older secrets,
// if given, are tried in turn on credentials that do not decrypt with
// secret (saved before the secret changed); Save always uses secret.
func (s *Store) SetCredentialSecret(secret string, older ...string) {
	all := []string{secret}
	for _, o := range older {
		if o != "" && o != secret {
			all = append(all, o)
		}
	}
	s.secrets.Store(&all)
}

func (s *Store) credentialSecret() string {
	if p := s.secrets.Load(); p != nil {
		return (*p)[0]
	}
	return ""
}

// sealCredentials encrypts a document's credentials for the credentials
// column: nil when it has none.
func (s *Store) sealCredentials(doc *flows.Document) ([]byte, error) {
	if len(doc.Credentials.IDs()) == 0 {
		return nil, nil
	}
	secret := s.credentialSecret()
	if secret == "" {
		return nil, fmt.Errorf("the flows have credentials (nodes %q) and no credential secret is set", doc.Credentials.IDs())
	}
	return flows.EncryptCredentials(doc.Credentials, secret)
}

// openCredentials decrypts a credentials column with the secret or, failing
// that, the older ones; the error is the last one's.
func (s *Store) openCredentials(sealed []byte) (flows.Credentials, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	secrets := []string{""}
	if p := s.secrets.Load(); p != nil {
		secrets = *p
	}
	var err error
	for _, secret := range secrets {
		var c flows.Credentials
		if c, err = flows.DecryptCredentials(sealed, secret); err == nil {
			return c, nil
		}
	}
	return nil, err
}

// Save stores doc as a new revision, which becomes the current flows. In one
// transaction it compares doc with the current revision (flows.Compare) for
// the summary and stores doc in Runnel's format, with its credentials
// encrypted (see SetCredentialSecret); a crash leaves the store with or
// without the revision, never with part of it.
func (s *Store) Save(ctx context.Context, doc *flows.Document, opt SaveOptions) (rev Revision, err error) {
	if doc == nil {
		return Revision{}, errors.New("store: save: nil document")
	}
	data, err := encodeDocument(doc)
	if err != nil {
		return Revision{}, fmt.Errorf("store: save: %w", err)
	}
	sealed, err := s.sealCredentials(doc)
	if err != nil {
		return Revision{}, fmt.Errorf("store: save: %w", err)
	}
	rev = Revision{
		Time:       time.UnixMilli(time.Now().UnixMilli()).UTC(),
		User:       opt.User,
		DeployType: opt.DeployType,
		Rev:        doc.Rev(),
		Nodes:      len(doc.Nodes),
	}
	if rev.DeployType == "" {
		rev.DeployType = "full"
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return Revision{}, fmt.Errorf("store: save: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var prev *flows.Document
	var prevID int64
	var prevData, prevSealed []byte
	err = tx.QueryRowContext(ctx, `SELECT id, flows, credentials FROM flow_revisions ORDER BY id DESC LIMIT 1`).Scan(&prevID, &prevData, &prevSealed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return Revision{}, fmt.Errorf("store: save: read current revision: %w", err)
	default:
		if prev, err = flows.Parse(prevData); err != nil {
			return Revision{}, fmt.Errorf("store: save: revision %d: %w", prevID, err)
		}
		// Credentials that no longer decrypt (the secret changed) are not
		// counted as changes in the summary.
		if prev.Credentials, err = s.openCredentials(prevSealed); err != nil {
			prev.Credentials, err = doc.Credentials, nil
		}
	}
	rev.Summary = flows.Compare(prev, doc).Summary()
	if opt.Note != "" {
		rev.Summary = opt.Note + ": " + rev.Summary
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO flow_revisions (time_ms, user, deploy_type, summary, rev, nodes, flows, credentials)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		rev.Time.UnixMilli(), rev.User, rev.DeployType, rev.Summary, rev.Rev, rev.Nodes, data, sealed)
	if err != nil {
		return Revision{}, fmt.Errorf("store: save: insert revision: %w", err)
	}
	if rev.ID, err = res.LastInsertId(); err != nil {
		return Revision{}, fmt.Errorf("store: save: revision id: %w", err)
	}
	if err = tx.Commit(); err != nil {
		return Revision{}, fmt.Errorf("store: save: commit: %w", err)
	}
	return rev, nil
}

// encodeDocument writes doc in Runnel's format as compact JSON with one
// node object per line. The line breaks keep flows.Parse fast (it locates
// every node by line and column) and the column readable in the sqlite3
// shell; the document is the same as its compact Marshal.
func encodeDocument(doc *flows.Document) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("[\n")
	one := &flows.Document{Nodes: make([]*flows.Node, 1)}
	for i, n := range doc.Nodes {
		if n == nil {
			return nil, fmt.Errorf("flows[%d] is a nil node", i)
		}
		one.Nodes[0] = n
		nb, err := one.Marshal(flows.FormatRunnel, false)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteString(",\n")
		}
		b.Write(nb[1 : len(nb)-1]) // without the array's brackets
	}
	b.WriteString("\n]")
	return b.Bytes(), nil
}

// revisionColumns are the columns scanRevision reads, in its order.
const revisionColumns = `id, time_ms, user, deploy_type, summary, rev, nodes`

// scanRevision reads revisionColumns, then the columns in more.
func scanRevision(row interface{ Scan(...any) error }, more ...any) (Revision, error) {
	var r Revision
	var ms int64
	if err := row.Scan(append([]any{&r.ID, &ms, &r.User, &r.DeployType, &r.Summary, &r.Rev, &r.Nodes}, more...)...); err != nil {
		return Revision{}, err
	}
	r.Time = time.UnixMilli(ms).UTC()
	return r, nil
}

// Current returns the current flows, the newest revision, and its
// description. The error wraps ErrNotFound when no flows were ever saved,
// and flows.ErrCredentialSecret when its credentials do not decrypt with
// the secret set.
func (s *Store) Current(ctx context.Context) (*flows.Document, Revision, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+revisionColumns+`, flows, credentials FROM flow_revisions ORDER BY id DESC LIMIT 1`)
	doc, rev, err := s.scanDocument(row)
	if err != nil {
		return nil, Revision{}, fmt.Errorf("store: current flows: %w", err)
	}
	return doc, rev, nil
}

// Revision returns the flow document of revision id, with its credentials,
// and its description. The error wraps ErrNotFound when there is no such
// revision, and flows.ErrCredentialSecret when its credentials do not
// decrypt with the secret set.
func (s *Store) Revision(ctx context.Context, id int64) (*flows.Document, Revision, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+revisionColumns+`, flows, credentials FROM flow_revisions WHERE id = ?`, id)
	doc, rev, err := s.scanDocument(row)
	if err != nil {
		return nil, Revision{}, fmt.Errorf("store: revision %d: %w", id, err)
	}
	return doc, rev, nil
}

// scanDocument reads a revision with its document and credentials.
func (s *Store) scanDocument(row *sql.Row) (*flows.Document, Revision, error) {
	var data, sealed []byte
	rev, err := scanRevision(row, &data, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, Revision{}, ErrNotFound
	}
	if err != nil {
		return nil, Revision{}, err
	}
	doc, err := flows.Parse(data)
	if err != nil {
		return nil, Revision{}, fmt.Errorf("stored flows: %w", err)
	}
	if doc.Credentials, err = s.openCredentials(sealed); err != nil {
		return nil, Revision{}, fmt.Errorf("%w (set the credential secret they were saved with: [edge] credential_secret or RUNNEL_CREDENTIAL_SECRET)", err)
	}
	return doc, rev, nil
}

// Revisions lists up to limit revisions older than beforeID, newest first:
// with beforeID <= 0 the newest ones, and with the ID of the last one of a
// page the next page. A limit <= 0 means DefaultLimit, and a limit above
// MaxLimit is MaxLimit. There are no more revisions when it returns fewer
// than asked.
func (s *Store) Revisions(ctx context.Context, limit int, beforeID int64) ([]Revision, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	if beforeID <= 0 {
		beforeID = math.MaxInt64
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+revisionColumns+` FROM flow_revisions
		WHERE id < ? ORDER BY id DESC LIMIT ?`, beforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list revisions: %w", err)
	}
	defer rows.Close()
	out := []Revision{}
	for rows.Next() {
		r, err := scanRevision(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list revisions: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list revisions: %w", err)
	}
	return out, nil
}
