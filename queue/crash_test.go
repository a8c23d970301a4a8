package queue

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// A process that died mid-submission leaves its job running. The next
// process rescues it after RescueAfter and resends the identical payload.
func testCrashRescue(t *testing.T, open func(o Options) Queue, pool func(q Queue) (execer, dialect)) {
	ctx := context.Background()
	o := Options{RetryBase: 10 * time.Millisecond, RetryCap: 50 * time.Millisecond, PollInterval: 20 * time.Millisecond,
		RescueAfter: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)}
	q := open(o)
	d := Delivery{DocumentID: "doc-1", SetID: "set-1", Version: 1, EntryID: "e1", Revision: 1, Route: RouteCDA,
		Role: documents.RolePsychologist, Payload: []byte("<signed archive message>")}
	if err := q.Ingest(ctx, LedgerRecord{EntryID: "e1", Revision: 1, Outcome: documents.OutcomeSubmit}, []Delivery{d}); err != nil {
		t.Fatal(err)
	}
	jobs, err := q.Jobs(ctx, JobFilter{})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("jobs = %v, %v", jobs, err)
	}
	id := jobs[0].ID
	// The worker took the job and the process died: running, attempted a
	// while ago, never finished.
	x, dl := pool(q)
	if _, err := x.exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = ? WHERE id = ?`,
		dl.t(time.Now().Add(-time.Minute)), id); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var sent [][]byte
	o.Submitter = SubmitterFunc(func(_ context.Context, d *Delivery) Result {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, d.Payload)
		return Result{Class: Duplicate, Code: "AA"}
	})
	q = open(o)
	defer q.Close()
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := q.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == StateDone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("abandoned job not rescued: %+v", j)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != 1 || !bytes.Equal(sent[0], d.Payload) {
		t.Fatalf("resent %q, want the identical payload once", sent)
	}
}

func TestCrashRescueSQLite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gateway.db")
	testCrashRescue(t, func(o Options) Queue {
		q, err := OpenSQLite(context.Background(), path, o)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}, func(q Queue) (execer, dialect) { s := q.(*store[*sql.Tx]); return s.b.pool, s.b.dialect })
}

func TestCrashRescuePostgres(t *testing.T) {
	t.Parallel()
	dsn := os.Getenv("KANTA_TEST_POSTGRES")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	schema := "qt_crash_" + time.Now().Format("150405000000")
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("PostgreSQL is required for this test: %v", err)
	}
	defer func() { _, _ = admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") }()
	testCrashRescue(t, func(o Options) Queue {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		q, err := OpenPostgres(ctx, dsn+sep+"search_path="+schema, o)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}, func(q Queue) (execer, dialect) { s := q.(*store[pgx.Tx]); return s.b.pool, s.b.dialect })
}
