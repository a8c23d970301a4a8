package queue

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// LedgerRecord is one entry revision as read and decided.
type LedgerRecord struct {
	EntryID     string
	Revision    int
	File        string
	Line        int
	Outcome     documents.Outcome
	ReasonClass documents.ReasonClass
	Reason      string
	Archive     documents.Archive
	Register    documents.Register
	Role        documents.Role
	Hetu        string // kept for the audit trail only
	// Source names where a rejection or skip was read, for RecordEvent's
	// deduplication; empty: File and Line. A line without an entry id
	// (not valid JSON) needs a source of its own: see gateway's reject.
	Source     string
	DocumentID string
	SetID      string
	Version    int
	DecidedAt  time.Time
}

// EntryKey names one entry revision.
type EntryKey struct {
	EntryID  string
	Revision int
}

func (s *store[TTx]) Seen(ctx context.Context, entryID string, revision int) (bool, error) {
	var n int
	if err := s.b.pool.queryRow(ctx, `SELECT count(*) FROM ledger WHERE entry_id = ? AND revision = ?`, entryID, revision).Scan(&n); err != nil {
		return false, fmt.Errorf("queue: ledger lookup: %w", err)
	}
	return n > 0, nil
}

// SeenBatch answers Seen for many revisions with one query.
func (s *store[TTx]) SeenBatch(ctx context.Context, keys []EntryKey) (map[EntryKey]bool, error) {
	out := make(map[EntryKey]bool, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	var q strings.Builder
	args := make([]any, 0, 2*len(keys))
	q.WriteString(`SELECT entry_id, revision FROM ledger WHERE `)
	for i, k := range keys {
		if i > 0 {
			q.WriteString(" OR ")
		}
		q.WriteString("(entry_id = ? AND revision = ?)")
		args = append(args, k.EntryID, k.Revision)
	}
	rows, err := s.b.pool.query(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("queue: ledger lookup: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k EntryKey
		if err := rows.Scan(&k.EntryID, &k.Revision); err != nil {
			return nil, fmt.Errorf("queue: ledger lookup: %w", err)
		}
		out[k] = true
	}
	return out, rows.Err()
}

// StoredDocuments reports which document ids have a delivery row.
func (s *store[TTx]) StoredDocuments(ctx context.Context, documentIDs []string) (map[string]bool, error) {
	out := make(map[string]bool, len(documentIDs))
	if len(documentIDs) == 0 {
		return out, nil
	}
	q := `SELECT document_id FROM deliveries WHERE document_id IN (?` + strings.Repeat(", ?", len(documentIDs)-1) + `)`
	args := make([]any, len(documentIDs))
	for i, id := range documentIDs {
		args[i] = id
	}
	rows, err := s.b.pool.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("queue: delivery lookup: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("queue: delivery lookup: %w", err)
		}
		out[id] = true
	}
	return out, rows.Err()
}

// LatestAccepted implements documents.History for callers that cannot
// handle an error (tests, tools). The interface has no error, so a failed
// lookup answers "nothing accepted" after logging it: ingestion must not use
// it, and uses AcceptedRevisions, which returns the error.
func (s *store[TTx]) LatestAccepted(entryID string) (int, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	revs, err := s.AcceptedRevisions(ctx, []string{entryID})
	if err != nil {
		s.o.Logger.Error("queue: ledger history lookup failed", "entry_id", entryID, "error", err)
		return 0, false
	}
	rev, ok := revs[entryID]
	return rev, ok
}

// AcceptedRevisions answers LatestAccepted for many entries with one query.
// An entry with no accepted revision is absent from the map; a database
// failure is an error, never "nothing accepted".
func (s *store[TTx]) AcceptedRevisions(ctx context.Context, entryIDs []string) (map[string]int, error) {
	out := make(map[string]int, len(entryIDs))
	if len(entryIDs) == 0 {
		return out, nil
	}
	var q strings.Builder
	args := make([]any, 0, len(entryIDs))
	q.WriteString(`SELECT entry_id, max(revision) FROM ledger WHERE outcome IN ('submit', 'hold', 'invalidate') AND entry_id IN (`)
	for i, id := range entryIDs {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("?")
		args = append(args, id)
	}
	q.WriteString(`) GROUP BY entry_id`)
	rows, err := s.b.pool.query(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("queue: ledger history lookup: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var rev int
		if err := rows.Scan(&id, &rev); err != nil {
			return nil, fmt.Errorf("queue: ledger history lookup: %w", err)
		}
		if rev > 0 {
			out[id] = rev
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: ledger history lookup: %w", err)
	}
	return out, nil
}
