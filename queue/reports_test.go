package queue

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// A report in progress (a console page counting a go-live backlog) does
// not hold the connection River and the deliveries write through: with
// both report connections busy, ingestion still commits at once. Before
// reports had their own connections, the ingest waited for the report.
func TestSQLiteReportsDoNotHoldTheWriter(t *testing.T) {
	q, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "gateway.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	s := q.(*store[*sql.Tx])
	ctx := context.Background()
	// Two reads left open: each keeps its connection until closed.
	var open []rowsIter
	for range 2 {
		rows, err := s.b.reports.query(ctx, `SELECT 1 UNION ALL SELECT 2`)
		if err != nil {
			t.Fatal(err)
		}
		if !rows.Next() {
			t.Fatal("report returned no row")
		}
		open = append(open, rows)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rec := LedgerRecord{EntryID: "e1", Revision: 1, Outcome: documents.OutcomeSkip, Reason: "test", DecidedAt: time.Now()}
	if err := q.Ingest(wctx, rec, nil); err != nil {
		t.Fatalf("ingest while reports are open: %v", err)
	}
	for _, rows := range open {
		rows.Close()
	}
	// The report connections refuse writes.
	if _, err := s.b.reports.exec(ctx, `DELETE FROM ledger`); err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Fatalf("a write through the report connections: %v, want a read-only refusal", err)
	}
}
