package queue

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/internal/pgtest"
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

// internalTest is a test that opens its queue (again, across restarts)
// and reaches our tables directly.
type internalTest func(t *testing.T, open func(o Options) Queue, pool func(q Queue) (execer, dialect))

func runSQLite(t *testing.T, test internalTest) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gateway.db")
	test(t, func(o Options) Queue {
		q, err := OpenSQLite(context.Background(), path, o)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}, func(q Queue) (execer, dialect) { s := q.(*store[*sql.Tx]); return s.b.pool, s.b.dialect })
}

func runPostgres(t *testing.T, test internalTest) {
	t.Parallel()
	dsn := pgtest.Schema(t, "qt_i")
	ctx := context.Background()
	test(t, func(o Options) Queue {
		q, err := OpenPostgres(ctx, dsn, o)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}, func(q Queue) (execer, dialect) { s := q.(*store[pgx.Tx]); return s.b.pool, s.b.dialect })
}

func TestCrashRescueSQLite(t *testing.T)   { runSQLite(t, testCrashRescue) }
func TestCrashRescuePostgres(t *testing.T) { runPostgres(t, testCrashRescue) }

func TestPayloadBesideJobSQLite(t *testing.T)   { runSQLite(t, testPayloadBesideJob) }
func TestPayloadBesideJobPostgres(t *testing.T) { runPostgres(t, testPayloadBesideJob) }

// The payload is stored beside its job, not in River's JSON arguments; the
// arguments pin it by SHA-256, bytes that do not match are never sent, and
// an acknowledged payload is dropped.
func testPayloadBesideJob(t *testing.T, open func(o Options) Queue, pool func(q Queue) (execer, dialect)) {
	ctx := context.Background()
	var mu sync.Mutex
	sent := map[string][]byte{}
	o := Options{RetryBase: 10 * time.Millisecond, RetryCap: 50 * time.Millisecond, PollInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
		Submitter: SubmitterFunc(func(_ context.Context, d *Delivery) Result {
			mu.Lock()
			defer mu.Unlock()
			sent[d.DocumentID] = d.Payload
			return Result{Class: Accepted, Code: "AA"}
		})}
	q := open(o)
	defer q.Close()
	good := Delivery{DocumentID: "doc-good", SetID: "set-good", Version: 1, EntryID: "good", Revision: 1, Route: RouteCDA,
		Role: documents.RolePsychologist, Payload: []byte("<signed archive message: GOOD-PAYLOAD-MARKER>")}
	bad := Delivery{DocumentID: "doc-bad", SetID: "set-bad", Version: 1, EntryID: "bad", Revision: 1, Route: RouteCDA,
		Role: documents.RolePsychologist, Payload: []byte("<signed archive message: as built>")}
	for _, d := range []Delivery{good, bad} {
		if err := q.Ingest(ctx, LedgerRecord{EntryID: d.EntryID, Revision: 1, Outcome: documents.OutcomeSubmit}, []Delivery{d}); err != nil {
			t.Fatal(err)
		}
	}
	x, dl := pool(q)
	argsText := `SELECT args::text FROM river_job WHERE id = ?`
	if dl.name == "sqlite" {
		argsText = `SELECT json(args) FROM river_job WHERE id = ?` // River stores JSONB there
	}
	jobs, err := q.Jobs(ctx, JobFilter{})
	if err != nil || len(jobs) != 2 {
		t.Fatalf("jobs = %v, %v", jobs, err)
	}
	ids := map[string]int64{}
	for _, j := range jobs {
		ids[j.Delivery.DocumentID] = j.ID
		var args string
		if err := x.queryRow(ctx, argsText, j.ID).Scan(&args); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(args, `"Payload"`) || strings.Contains(args, "PAYLOAD") || !strings.Contains(args, `"PayloadSHA256"`) {
			t.Errorf("job %d arguments carry the payload or lack its hash: %s", j.ID, args)
		}
		if want := map[string]int{"doc-good": len(good.Payload), "doc-bad": len(bad.Payload)}[j.Delivery.DocumentID]; j.PayloadBytes != want {
			t.Errorf("job %d PayloadBytes = %d, want %d", j.ID, j.PayloadBytes, want)
		}
	}
	// Bytes changed behind the queue's back.
	if _, err := x.exec(ctx, `UPDATE deliveries SET payload = ? WHERE document_id = ?`, []byte("<tampered>"), bad.DocumentID); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		g, err := q.Job(ctx, ids[good.DocumentID])
		if err != nil {
			t.Fatal(err)
		}
		b, err := q.Job(ctx, ids[bad.DocumentID])
		if err != nil {
			t.Fatal(err)
		}
		if g.State == StateDone && b.State == StateDead {
			if g.PayloadBytes != 0 {
				t.Errorf("acknowledged payload kept: %d bytes", g.PayloadBytes)
			}
			if b.AckDetail != "PAYLOAD_MISMATCH" || b.PayloadBytes == 0 {
				t.Errorf("mismatched payload: %+v", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("good %s, bad %s", g.State, b.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if !bytes.Equal(sent[good.DocumentID], good.Payload) {
		t.Errorf("sent %q, want the payload as built", sent[good.DocumentID])
	}
	if _, ok := sent[bad.DocumentID]; ok {
		t.Error("a payload that does not match its hash was sent")
	}
}

func TestCrashBetweenPrerequisiteAndDependantSQLite(t *testing.T) {
	runSQLite(t, testCrashBetweenPrerequisiteAndDependant)
}
func TestCrashBetweenPrerequisiteAndDependantPostgres(t *testing.T) {
	runPostgres(t, testCrashBetweenPrerequisiteAndDependant)
}

// The process died while sending a client relationship's document (Kanta
// may have archived it; the acknowledgement was lost), its entry waiting
// for it. The next process rescues the relationship document, resends the
// same bytes, and only after their acknowledgement sends the entry.
func testCrashBetweenPrerequisiteAndDependant(t *testing.T, open func(o Options) Queue, pool func(q Queue) (execer, dialect)) {
	ctx := context.Background()
	o := Options{RetryBase: 10 * time.Millisecond, RetryCap: 50 * time.Millisecond, PollInterval: 20 * time.Millisecond,
		OrderWait: 50 * time.Millisecond, RescueAfter: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)}
	q := open(o)
	rel := Delivery{DocumentID: "rel-1", SetID: "relset-1", Version: 1, EntryID: "e1", Revision: 1, Route: RouteCDA,
		Role: documents.RoleSchoolWelfareOfficer, Shared: true, Payload: []byte("<relationship document>")}
	entry := Delivery{DocumentID: "doc-1", SetID: "set-1", Version: 1, EntryID: "e1", Revision: 1, Route: RouteCDA,
		Role: documents.RoleSchoolWelfareOfficer, After: "relset-1", AfterWhat: "client relationship document", Payload: []byte("<entry>")}
	if err := q.Ingest(ctx, LedgerRecord{EntryID: "e1", Revision: 1, Outcome: documents.OutcomeSubmit}, []Delivery{rel, entry}); err != nil {
		t.Fatal(err)
	}
	jobs, err := q.Jobs(ctx, JobFilter{})
	if err != nil || len(jobs) != 2 {
		t.Fatalf("jobs = %v, %v", jobs, err)
	}
	ids := map[string]int64{}
	for _, j := range jobs {
		ids[j.Delivery.DocumentID] = j.ID
	}
	if j, _ := q.Job(ctx, ids["doc-1"]); j.WaitReason != "waiting for client relationship document rel-1 (queued)" {
		t.Fatalf("entry wait reason %q", j.WaitReason)
	}
	x, dl := pool(q)
	if _, err := x.exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = ? WHERE id = ?`,
		dl.t(time.Now().Add(-time.Minute)), ids["rel-1"]); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var order []string
	o.Submitter = SubmitterFunc(func(_ context.Context, d *Delivery) Result {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, d.DocumentID+"="+string(d.Payload))
		if d.DocumentID == "rel-1" {
			return Result{Class: Duplicate, Code: "AA"} // archived before the crash
		}
		return Result{Class: Accepted, Code: "AA"}
	})
	q = open(o)
	defer q.Close()
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := q.Job(ctx, ids["doc-1"])
		if err != nil {
			t.Fatal(err)
		}
		if j.State == StateDone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("entry not delivered after the rescue: %+v", j)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(order) != "[rel-1=<relationship document> doc-1=<entry>]" {
		t.Fatalf("sent %v, want the relationship document once (same bytes), then the entry", order)
	}
}
