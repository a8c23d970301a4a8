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

type otherJob struct{}

func (otherJob) Kind() string { return "not_a_delivery" }

type acceptAll struct{}

func (acceptAll) Submit(context.Context, *Delivery) Result { return Result{Class: Accepted} }

// Stats and qBusy count River's table without filtering on kind: every job
// in it is a delivery. River's client refuses to insert a kind it has no
// worker for, and the working client has only the delivery worker; the
// report client cannot write at all.
func TestOnlyDeliveriesInRiversTable(t *testing.T) {
	q, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "gateway.db"), Options{Submitter: acceptAll{}})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	s := q.(*store[*sql.Tx])
	ctx := context.Background()
	if _, err := s.client.Insert(ctx, otherJob{}, nil); err == nil {
		t.Error("the working client inserted a job of another kind")
	}
	if _, err := s.reportClient.Insert(ctx, otherJob{}, nil); err == nil {
		t.Error("the report client inserted a job")
	}
	var kinds []string
	rows, err := s.b.reports.query(ctx, `SELECT DISTINCT kind FROM river_job`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, k)
	}
	rows.Close()
	if len(kinds) != 0 {
		t.Errorf("river_job holds kinds %v after refused inserts", kinds)
	}
}
