// Package queuetest is the conformance suite every queue backend passes.
package queuetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// Open returns a queue on the test's own store. Called again within the
// same test it must reopen the same store (restart tests).
type Open func(t *testing.T, o queue.Options) queue.Queue

// Fake is a scripted Submitter: each document id answers its scripted
// results in order, then Default. It records every call.
type Fake struct {
	mu      sync.Mutex
	script  map[string][]queue.Result
	Default queue.Result
	calls   map[string][]time.Time
	// Block, when set, is called before answering (under no lock).
	Block func(ctx context.Context, d *queue.Delivery) *queue.Result
}

// NewFake answers Accepted (AA) by default.
func NewFake() *Fake {
	return &Fake{script: map[string][]queue.Result{}, calls: map[string][]time.Time{}, Default: queue.Result{Class: queue.Accepted, Code: "AA"}}
}

// Script queues results for a document id.
func (f *Fake) Script(documentID string, rs ...queue.Result) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script[documentID] = append(f.script[documentID], rs...)
}

// SetDefault changes the answer once scripts run out.
func (f *Fake) SetDefault(r queue.Result) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Default = r
}

func (f *Fake) Submit(ctx context.Context, d *queue.Delivery) queue.Result {
	f.mu.Lock()
	f.calls[d.DocumentID] = append(f.calls[d.DocumentID], time.Now())
	block := f.Block
	f.mu.Unlock()
	if block != nil {
		if r := block(ctx, d); r != nil {
			return *r
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.script[d.DocumentID]; len(s) > 0 {
		f.script[d.DocumentID] = s[1:]
		return s[0]
	}
	return f.Default
}

// Calls are the times a document was submitted.
func (f *Fake) Calls(documentID string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.calls[documentID]...)
}

// Count is how many times a document was submitted.
func (f *Fake) Count(documentID string) int { return len(f.Calls(documentID)) }

// Total is how many submissions there were.
func (f *Fake) Total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += len(c)
	}
	return n
}

// Options are short timings so the suite runs in seconds.
func Options(sub queue.Submitter) queue.Options {
	o := queue.Options{
		Workers:      4,
		RetryBase:    10 * time.Millisecond,
		RetryCap:     50 * time.Millisecond,
		MaxAttempts:  5,
		RescueAfter:  10 * time.Second,
		OrderWait:    50 * time.Millisecond,
		PollInterval: 20 * time.Millisecond,
		Logger:       slog.New(slog.DiscardHandler),
	}
	if sub != nil {
		o.Submitter = sub
	}
	return o
}

const (
	hetuA = "010181-900C"
	hetuB = "020292-9011"
)

// Record is a ledger record of a submitted entry revision.
func Record(entryID string, revision int, outcome documents.Outcome) queue.LedgerRecord {
	return queue.LedgerRecord{
		EntryID: entryID, Revision: revision, File: "batch-1.ndjson", Line: revision,
		Outcome: outcome, ReasonClass: documents.ReasonDue, Reason: "due",
		Archive: documents.ArchivePatient, Register: documents.RegisterHealthCarePatient, Role: documents.RolePsychologist,
		Hetu: hetuA, DocumentID: DocID(entryID, revision), SetID: "set-" + entryID, Version: revision,
		DecidedAt: time.Now(),
	}
}

// DocID is the test document id of an entry revision.
func DocID(entryID string, revision int) string { return fmt.Sprintf("doc-%s-%d", entryID, revision) }

// Del is a due CDA delivery of an entry revision (version = revision).
func Del(entryID string, revision int) queue.Delivery {
	return queue.Delivery{
		DocumentID: DocID(entryID, revision), SetID: "set-" + entryID, Version: revision,
		EntryID: entryID, Revision: revision,
		Archive: documents.ArchivePatient, Role: documents.RolePsychologist, Register: documents.RegisterHealthCarePatient,
		Route: queue.RouteCDA, Interaction: "test", Payload: []byte("<signed message " + entryID + ">"),
	}
}

func ingest(t *testing.T, q queue.Queue, rec queue.LedgerRecord, ds ...queue.Delivery) {
	t.Helper()
	if err := q.Ingest(context.Background(), rec, ds); err != nil {
		t.Fatalf("ingest %s#%d: %v", rec.EntryID, rec.Revision, err)
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// job finds the job of a document.
func job(t *testing.T, q queue.Queue, entryID string, revision int) queue.JobInfo {
	t.Helper()
	jobs, err := q.Jobs(context.Background(), queue.JobFilter{EntryID: entryID})
	if err != nil {
		t.Fatalf("jobs of %s: %v", entryID, err)
	}
	for _, j := range jobs {
		if j.Delivery.Revision == revision {
			return j
		}
	}
	t.Fatalf("no job for %s#%d (have %d jobs)", entryID, revision, len(jobs))
	return queue.JobInfo{}
}

func jobState(q queue.Queue, entryID string, revision int) string {
	jobs, err := q.Jobs(context.Background(), queue.JobFilter{EntryID: entryID})
	if err != nil {
		return "error: " + err.Error()
	}
	for _, j := range jobs {
		if j.Delivery.Revision == revision {
			return j.State
		}
	}
	return "missing"
}

func waitState(t *testing.T, q queue.Queue, entryID string, revision int, state string, timeout time.Duration) queue.JobInfo {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("%s#%d to be %s", entryID, revision, state), func() bool { return jobState(q, entryID, revision) == state })
	return job(t, q, entryID, revision)
}

func waitIdle(t *testing.T, q queue.Queue, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := q.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle: %v", err)
	}
}

func start(t *testing.T, q queue.Queue) {
	t.Helper()
	if err := q.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
}

// Run runs the conformance suite.
func Run(t *testing.T, open Open) {
	openQ := func(t *testing.T, o queue.Options) queue.Queue {
		t.Helper()
		q := open(t, o)
		t.Cleanup(func() { _ = q.Close() })
		return q
	}
	ctx := context.Background()

	t.Run("IngestSeenAlreadyRead", func(t *testing.T) {
		t.Parallel()
		q := openQ(t, Options(nil))
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), Del("e1", 1))
		if seen, err := q.Seen(ctx, "e1", 1); err != nil || !seen {
			t.Fatalf("Seen(e1,1) = %v, %v; want true", seen, err)
		}
		if seen, err := q.Seen(ctx, "e1", 2); err != nil || seen {
			t.Fatalf("Seen(e1,2) = %v, %v; want false", seen, err)
		}
		err := q.Ingest(ctx, Record("e1", 1, documents.OutcomeSubmit), []queue.Delivery{Del("e1", 1)})
		if !errors.Is(err, queue.ErrAlreadyRead) {
			t.Fatalf("re-ingest: %v, want ErrAlreadyRead", err)
		}
		jobs, err := q.Jobs(ctx, queue.JobFilter{EntryID: "e1"})
		if err != nil || len(jobs) != 1 {
			t.Fatalf("jobs after re-ingest = %d, %v; want 1", len(jobs), err)
		}
		j := jobs[0]
		if j.State != queue.StateAvailable || j.Delivery.DocumentID != DocID("e1", 1) || j.PayloadBytes == 0 || j.Delivery.Payload != nil || j.DeliveryState != queue.DeliveryQueued {
			t.Fatalf("job = %+v", j)
		}
		if rev, ok := q.LatestAccepted("e1"); !ok || rev != 1 {
			t.Fatalf("LatestAccepted(e1) = %d, %v", rev, ok)
		}
		ingest(t, q, Record("e1", 2, documents.OutcomeReject))
		if rev, ok := q.LatestAccepted("e1"); !ok || rev != 1 {
			t.Fatalf("LatestAccepted(e1) after a rejected revision 2 = %d, %v; want 1", rev, ok)
		}
		ingest(t, q, Record("e1", 3, documents.OutcomeHold))
		if rev, _ := q.LatestAccepted("e1"); rev != 3 {
			t.Fatalf("LatestAccepted(e1) after held revision 3 = %d", rev)
		}
		ingest(t, q, Record("e2", 1, documents.OutcomeSkip))
		if _, ok := q.LatestAccepted("e2"); ok {
			t.Fatal("a skipped revision counts as accepted")
		}
		revs, err := q.AcceptedRevisions(ctx, []string{"e1", "e2", "e3"})
		if err != nil || len(revs) != 1 || revs["e1"] != 3 {
			t.Fatalf("AcceptedRevisions(e1, e2, e3) = %v, %v; want only e1 at 3", revs, err)
		}
		if err := q.Start(ctx); err == nil {
			t.Fatal("an insert-only queue started")
		}
	})

	t.Run("IngestIsOneTransaction", func(t *testing.T) {
		t.Parallel()
		q := openQ(t, Options(nil))
		d1 := Del("e1", 1)
		d2 := Del("e1", 1) // same document id: the second delivery row fails
		d2.Route = queue.RouteFHIR
		err := q.Ingest(ctx, Record("e1", 1, documents.OutcomeSubmit), []queue.Delivery{d1, d2})
		if err == nil || errors.Is(err, queue.ErrAlreadyRead) {
			t.Fatalf("ingest with a failing delivery insert: %v", err)
		}
		if seen, _ := q.Seen(ctx, "e1", 1); seen {
			t.Fatal("ledger row survived a failed ingest")
		}
		st, err := q.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for state, n := range st.Depth {
			if n != 0 {
				t.Fatalf("%d %s jobs survived a failed ingest", n, state)
			}
		}
		bad := Del("e1", 1)
		bad.Route = "smtp"
		if err := q.Ingest(ctx, Record("e1", 1, documents.OutcomeSubmit), []queue.Delivery{bad}); err == nil {
			t.Fatal("unknown route accepted")
		}
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), d1)
		if seen, _ := q.Seen(ctx, "e1", 1); !seen {
			t.Fatal("ingest after a failed one not seen")
		}
	})

	t.Run("AcceptedDuplicateInvalidated", func(t *testing.T) {
		t.Parallel()
		f := NewFake()
		f.Script(DocID("e2", 1), queue.Result{Class: queue.Duplicate, Code: "AA", Detail: "already archived"})
		q := openQ(t, Options(f))
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), Del("e1", 1))
		ingest(t, q, Record("e2", 1, documents.OutcomeSubmit), Del("e2", 1))
		inv := Record("e3", 2, documents.OutcomeInvalidate)
		inv.Hetu = hetuB
		ingest(t, q, inv, Del("e3", 2))
		start(t, q)
		waitIdle(t, q, 20*time.Second)
		for _, e := range []string{"e1", "e2"} {
			if n := f.Count(DocID(e, 1)); n != 1 {
				t.Fatalf("%s submitted %d times", e, n)
			}
			j := job(t, q, e, 1)
			if j.State != queue.StateDone || j.DeliveryState != queue.DeliveryDelivered || j.AckCode != "AA" {
				t.Fatalf("%s job = %+v", e, j)
			}
		}
		if j := job(t, q, "e2", 1); j.AckDetail != "already archived" {
			t.Fatalf("duplicate ack detail = %q", j.AckDetail)
		}
		ev, err := q.Audit(ctx, queue.AuditQuery{Hetu: hetuA})
		if err != nil || len(ev) != 2 {
			t.Fatalf("audit by hetu = %d events, %v; want 2", len(ev), err)
		}
		for _, e := range ev {
			if e.Event != queue.EventAccepted || e.AuthorRole != documents.RolePsychologist || e.Archive != documents.ArchivePatient || e.AckCode != "AA" || e.Hetu != hetuA || e.Time.IsZero() {
				t.Fatalf("audit event = %+v", e)
			}
		}
		ev, err = q.Audit(ctx, queue.AuditQuery{EntryID: "e3"})
		if err != nil || len(ev) != 1 || ev[0].Event != queue.EventInvalidated || ev[0].Revision != 2 || ev[0].DocumentID != DocID("e3", 2) {
			t.Fatalf("audit of the invalidation = %+v, %v", ev, err)
		}
	})

	t.Run("RetryTwiceThenAccepted", func(t *testing.T) {
		t.Parallel()
		f := NewFake()
		var mu sync.Mutex
		var attempts []int
		o := Options(f)
		o.OnResult = func(d *queue.Delivery, r queue.Result, attempt int) {
			mu.Lock()
			attempts = append(attempts, attempt)
			mu.Unlock()
		}
		f.Script(DocID("e1", 1), queue.Result{Class: queue.Retry, Code: "HTTP 503"}, queue.Result{Class: queue.Retry, Err: errors.New("connection reset")})
		q := openQ(t, o)
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), Del("e1", 1))
		start(t, q)
		waitIdle(t, q, 20*time.Second)
		if n := f.Count(DocID("e1", 1)); n != 3 {
			t.Fatalf("submitted %d times, want 3", n)
		}
		j := job(t, q, "e1", 1)
		if j.State != queue.StateDone || len(j.Errors) != 2 || j.Attempt != 3 {
			t.Fatalf("job = %+v", j)
		}
		if !strings.Contains(j.Errors[0].Error, "HTTP 503") || !strings.Contains(j.Errors[1].Error, "connection reset") {
			t.Fatalf("attempt errors = %+v", j.Errors)
		}
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(attempts) != "[1 2 3]" {
			t.Fatalf("OnResult attempts = %v", attempts)
		}
	})

	t.Run("PermanentIsDead", func(t *testing.T) {
		t.Parallel()
		f := NewFake()
		f.Script(DocID("e1", 1), queue.Result{Class: queue.Permanent, Code: "AR", Detail: "E1042", Text: "schema violation"})
		q := openQ(t, Options(f))
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), Del("e1", 1))
		start(t, q)
		j := waitState(t, q, "e1", 1, queue.StateDead, 20*time.Second)
		if j.DeliveryState != queue.DeliveryDead || j.AckCode != "AR" || j.AckDetail != "E1042" || j.AckText != "schema violation" || len(j.Errors) != 1 {
			t.Fatalf("dead job = %+v", j)
		}
		waitIdle(t, q, 10*time.Second)
		if n := f.Count(DocID("e1", 1)); n != 1 {
			t.Fatalf("a permanent rejection was sent %d times", n)
		}
		st, err := q.Stats(ctx)
		if err != nil || st.Dead != 1 || st.Depth[queue.StateDead] != 1 || st.Depth[queue.StateCancelled] != 0 {
			t.Fatalf("stats = %+v, %v", st, err)
		}
		if dead, _ := q.Jobs(ctx, queue.JobFilter{State: queue.StateDead}); len(dead) != 1 {
			t.Fatalf("dead jobs listed: %d", len(dead))
		}
		if c, _ := q.Jobs(ctx, queue.JobFilter{State: queue.StateCancelled}); len(c) != 0 {
			t.Fatalf("a dead job is listed as cancelled")
		}
		ev, err := q.Audit(ctx, queue.AuditQuery{EntryID: "e1"})
		if err != nil || len(ev) != 1 || ev[0].Event != queue.EventDead || ev[0].AckCode != "AR" {
			t.Fatalf("audit = %+v, %v", ev, err)
		}
	})

	t.Run("ExhaustedIsDeadAndRetryAllDead", func(t *testing.T) {
		t.Parallel()
		f := NewFake()
		f.SetDefault(queue.Result{Class: queue.Retry, Code: "HTTP 502"})
		o := Options(f)
		o.MaxAttempts = 3
		q := openQ(t, o)
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), Del("e1", 1))
		start(t, q)
		j := waitState(t, q, "e1", 1, queue.StateDead, 20*time.Second)
		if n := f.Count(DocID("e1", 1)); n != 3 {
			t.Fatalf("submitted %d times, want MaxAttempts 3", n)
		}
		if j.DeliveryState != queue.DeliveryDead || len(j.Errors) != 3 || j.AckCode != "HTTP 502" {
			t.Fatalf("dead job = %+v", j)
		}
		f.SetDefault(queue.Result{Class: queue.Accepted, Code: "AA"})
		n, err := q.RetryAllDead(ctx)
		if err != nil || n != 1 {
			t.Fatalf("RetryAllDead = %d, %v", n, err)
		}
		j = waitState(t, q, "e1", 1, queue.StateDone, 20*time.Second)
		if j.DeliveryState != queue.DeliveryDelivered {
			t.Fatalf("retried job = %+v", j)
		}
	})

	t.Run("RefusalsSpendNoAttempt", func(t *testing.T) {
		t.Parallel()
		// The submitter's own breaker refuses 10 times (more than
		// MaxAttempts 3), then Kanta accepts: delivered, not dead, and
		// River counted only the attempt that reached Kanta.
		f := NewFake()
		refused := queue.Result{Class: queue.Retry, Code: "CIRCUIT_OPEN", RetryAfter: 10 * time.Millisecond, Refused: true}
		for range 10 {
			f.Script(DocID("e1", 1), refused)
		}
		o := Options(f)
		o.MaxAttempts = 3
		q := openQ(t, o)
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), Del("e1", 1))
		start(t, q)
		j := waitState(t, q, "e1", 1, queue.StateDone, 30*time.Second)
		if n := f.Count(DocID("e1", 1)); n != 11 {
			t.Fatalf("submitted %d times, want 10 refusals and the accepted attempt", n)
		}
		if j.DeliveryState != queue.DeliveryDelivered || j.Attempt != 1 || len(j.Errors) != 0 {
			t.Fatalf("job after 10 refusals = %+v (want delivered at attempt 1, no errors)", j)
		}
	})

	t.Run("RetriesBoundedByAgeAndAttempts", func(t *testing.T) {
		t.Parallel()
		// Kanta fails every attempt that reaches it. With MaxAttempts 3
		// and MaxRetryAge 1.5 s the delivery is retried past its third
		// attempt until 1.5 s after its first failure, and only then
		// dead-lettered.
		f := NewFake()
		f.SetDefault(queue.Result{Class: queue.Retry, Code: "HTTP_503"})
		o := Options(f)
		o.MaxAttempts, o.MaxRetryAge = 3, 1500*time.Millisecond
		q := openQ(t, o)
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), Del("e1", 1))
		start(t, q)
		j := waitState(t, q, "e1", 1, queue.StateDead, 30*time.Second)
		calls := f.Calls(DocID("e1", 1))
		if len(calls) < 3 {
			t.Fatalf("dead after %d attempts, before MaxAttempts", len(calls))
		}
		// The age runs from the first failed attempt as the queue
		// recorded it, to the dead-lettering.
		if len(j.Errors) != len(calls) {
			t.Fatalf("%d errors recorded for %d attempts", len(j.Errors), len(calls))
		}
		if age := j.FinalizedAt.Sub(j.Errors[0].At); age < o.MaxRetryAge {
			t.Fatalf("dead %s after the first failure, before MaxRetryAge %s", age, o.MaxRetryAge)
		}
		if j.DeliveryState != queue.DeliveryDead || j.AckCode != "HTTP_503" || j.MaxAttempts != 3 {
			t.Fatalf("dead job = %+v", j)
		}
		if !strings.Contains(j.AckText, "retries used up") || !strings.Contains(j.AckText, "queue.max_retry_age 1.5s") {
			t.Fatalf("dead reason %q does not say the retries were used up", j.AckText)
		}
		ev, err := q.Audit(ctx, queue.AuditQuery{EntryID: "e1"})
		if err != nil || len(ev) != 1 || ev[0].Event != queue.EventDead {
			t.Fatalf("audit = %+v, %v", ev, err)
		}
	})

	t.Run("LongOutageDeliversAfterRecovery", func(t *testing.T) {
		t.Parallel()
		// Kanta fails 8 real attempts (MaxAttempts 3) within MaxRetryAge,
		// then recovers: the delivery is delivered, never dead.
		f := NewFake()
		for range 8 {
			f.Script(DocID("e1", 1), queue.Result{Class: queue.Retry, Code: "HTTP_503"})
		}
		o := Options(f)
		o.MaxAttempts, o.MaxRetryAge = 3, time.Hour
		q := openQ(t, o)
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), Del("e1", 1))
		start(t, q)
		j := waitState(t, q, "e1", 1, queue.StateDone, 30*time.Second)
		if n := f.Count(DocID("e1", 1)); n != 9 || j.DeliveryState != queue.DeliveryDelivered || len(j.Errors) != 8 {
			t.Fatalf("after %d submissions job = %+v", n, j)
		}
	})

	t.Run("StatsNameTheNextRetry", func(t *testing.T) {
		t.Parallel()
		// One delivery failed and waits an hour for its retry, one is held
		// for a go-live, one is delivered: only the first is left for a
		// retry, and the next retry is not the held one's release.
		f := NewFake()
		f.Script(DocID("e1", 1), queue.Result{Class: queue.Retry, Code: "HTTP_503", RetryAfter: time.Hour})
		q := openQ(t, Options(f))
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), Del("e1", 1))
		held := Del("e2", 1)
		release := time.Now().Add(3 * time.Hour)
		held.NotBefore, held.HeldUntilGoLive = release, true
		ingest(t, q, Record("e2", 1, documents.OutcomeHold), held)
		ingest(t, q, Record("e3", 1, documents.OutcomeSubmit), Del("e3", 1))
		start(t, q)
		waitState(t, q, "e3", 1, queue.StateDone, 20*time.Second)
		waitFor(t, 20*time.Second, "the failed attempt to be recorded", func() bool {
			j := job(t, q, "e1", 1)
			return len(j.Errors) == 1 && j.State != queue.StateRunning
		})
		st, err := q.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Retrying != 1 || st.NextRetry.Sub(time.Now().Add(time.Hour)).Abs() > time.Minute {
			t.Fatalf("retrying %d, next retry %s; want 1 in an hour", st.Retrying, st.NextRetry)
		}
		if st.NextScheduled.Sub(release).Abs() > time.Second {
			t.Fatalf("next held release %s, want %s (the retry is not a held release)", st.NextScheduled, release)
		}
	})

	t.Run("ProbeWrite", func(t *testing.T) {
		t.Parallel()
		q := openQ(t, Options(nil))
		for range 2 { // the second rewrites the first's row
			if err := q.ProbeWrite(ctx); err != nil {
				t.Fatalf("write probe on a writable store: %v", err)
			}
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		if err := q.ProbeWrite(ctx); err == nil {
			t.Fatal("write probe on a closed store succeeded")
		}
	})

	t.Run("RetryAfterRespected", func(t *testing.T) {
		t.Parallel()
		const retryAfter = 1200 * time.Millisecond
		f := NewFake()
		f.Script(DocID("e1", 1), queue.Result{Class: queue.Retry, Code: "HTTP 429", RetryAfter: retryAfter})
		q := openQ(t, Options(f))
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), Del("e1", 1))
		start(t, q)
		var j queue.JobInfo
		waitFor(t, 10*time.Second, "the first failure to be recorded", func() bool {
			j = job(t, q, "e1", 1)
			return len(j.Errors) == 1 && j.State != queue.StateRunning
		})
		first := f.Calls(DocID("e1", 1))[0]
		// River keeps milliseconds on SQLite.
		if earliest := first.Add(retryAfter - 2*time.Millisecond); j.ScheduledAt.Before(earliest) {
			t.Fatalf("scheduled at %s, before the Retry-After (%s)", j.ScheduledAt, earliest)
		}
		waitIdle(t, q, 20*time.Second)
		calls := f.Calls(DocID("e1", 1))
		if len(calls) != 2 {
			t.Fatalf("submitted %d times", len(calls))
		}
		if gap := calls[1].Sub(calls[0]); gap < retryAfter {
			t.Fatalf("resent after %s, Retry-After was %s", gap, retryAfter)
		}
	})

	t.Run("BackoffCapped", func(t *testing.T) {
		t.Parallel()
		f := NewFake()
		f.SetDefault(queue.Result{Class: queue.Retry})
		o := Options(f)
		// Uncapped, the 6th..8th waits would be drawn from up to 1.6, 3.2
		// and 6.4 s; capped they are at most 50 ms.
		o.RetryBase, o.RetryCap, o.MaxAttempts = 50*time.Millisecond, 50*time.Millisecond, 8
		q := openQ(t, o)
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), Del("e1", 1))
		start(t, q)
		waitState(t, q, "e1", 1, queue.StateDead, 20*time.Second)
		calls := f.Calls(DocID("e1", 1))
		if len(calls) != 8 {
			t.Fatalf("submitted %d times", len(calls))
		}
		// The cap itself is checked exactly by the retry policy's unit test
		// (TestBackoffFullJitterCapped); here only that a backend does not
		// stretch it. Uncapped, attempt 8 alone would wait up to 6.4 s; the
		// slack absorbs polling and scheduling latency under -race on a
		// loaded 2-core machine.
		const slack = 2 * time.Second
		for i := 1; i < len(calls); i++ {
			if gap := calls[i].Sub(calls[i-1]); gap > o.RetryCap+slack {
				t.Fatalf("retry %d came after %s, cap is %s", i, gap, o.RetryCap)
			}
		}
	})

	t.Run("VersionOrder", func(t *testing.T) {
		t.Parallel()
		f := NewFake()
		f.Script(DocID("e1", 1), queue.Result{Class: queue.Retry, Code: "HTTP 503", RetryAfter: 700 * time.Millisecond})
		q := openQ(t, Options(f))
		// Version 2 is read (and queued) before version 1.
		ingest(t, q, Record("e1", 2, documents.OutcomeSubmit), Del("e1", 2))
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), Del("e1", 1))
		start(t, q)
		waitFor(t, 10*time.Second, "version 2 to say it waits for version 1", func() bool {
			return strings.Contains(job(t, q, "e1", 2).WaitReason, "waiting for version 1")
		})
		waitIdle(t, q, 20*time.Second)
		v1, v2 := f.Calls(DocID("e1", 1)), f.Calls(DocID("e1", 2))
		if len(v1) != 2 || len(v2) != 1 {
			t.Fatalf("v1 sent %d times, v2 %d times", len(v1), len(v2))
		}
		if !v2[0].After(v1[1]) {
			t.Fatalf("version 2 sent at %s, before version 1 was accepted at %s", v2[0], v1[1])
		}
		if j := job(t, q, "e1", 2); j.State != queue.StateDone || j.WaitReason != "" {
			t.Fatalf("v2 = %+v", j)
		}
	})

	t.Run("DeadPredecessorBlocksOnlyItsSet", func(t *testing.T) {
		t.Parallel()
		f := NewFake()
		f.Script(DocID("e1", 1), queue.Result{Class: queue.Permanent, Code: "AR", Detail: "E77"})
		q := openQ(t, Options(f))
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), Del("e1", 1))
		ingest(t, q, Record("e1", 2, documents.OutcomeSubmit), Del("e1", 2))
		ingest(t, q, Record("e9", 1, documents.OutcomeSubmit), Del("e9", 1))
		start(t, q)
		waitState(t, q, "e1", 1, queue.StateDead, 20*time.Second)
		var reason string
		waitFor(t, 10*time.Second, "version 2 to name its dead predecessor", func() bool {
			reason = job(t, q, "e1", 2).WaitReason
			return strings.Contains(reason, "dead")
		})
		if !strings.Contains(reason, "waiting for version 1") || !strings.Contains(reason, "AR") || !strings.Contains(reason, "E77") {
			t.Fatalf("wait reason = %q", reason)
		}
		// A blocked version does not keep WaitIdle waiting, nor other sets.
		waitIdle(t, q, 20*time.Second)
		if n := f.Count(DocID("e9", 1)); n != 1 {
			t.Fatalf("another set's document sent %d times", n)
		}
		if n := f.Count(DocID("e1", 2)); n != 0 {
			t.Fatalf("version 2 sent %d times while version 1 is dead", n)
		}
		if s := jobState(q, "e1", 2); s == queue.StateDone {
			t.Fatal("version 2 done while version 1 is dead")
		}
		// The operator retries version 1; now Kanta accepts it, and 2 follows.
		if err := q.Retry(ctx, job(t, q, "e1", 1).ID); err != nil {
			t.Fatal(err)
		}
		waitState(t, q, "e1", 2, queue.StateDone, 20*time.Second)
		if j := job(t, q, "e1", 1); j.State != queue.StateDone || j.DeliveryState != queue.DeliveryDelivered {
			t.Fatalf("retried v1 = %+v", j)
		}
		if v1, v2 := f.Calls(DocID("e1", 1)), f.Calls(DocID("e1", 2)); len(v1) != 2 || len(v2) != 1 || !v2[0].After(v1[1]) {
			t.Fatalf("v1 calls %v, v2 calls %v", v1, v2)
		}
	})

	t.Run("HeldUntilNotBefore", func(t *testing.T) {
		t.Parallel()
		f := NewFake()
		q := openQ(t, Options(f))
		notBefore := time.Now().Add(1500 * time.Millisecond)
		d := Del("e1", 1)
		d.NotBefore, d.HeldUntilGoLive = notBefore, true
		ingest(t, q, Record("e1", 1, documents.OutcomeHold), d)
		if s := jobState(q, "e1", 1); s != queue.StateScheduled {
			t.Fatalf("held job is %s", s)
		}
		st, err := q.Stats(ctx)
		if err != nil || st.Depth[queue.StateScheduled] != 1 || st.NextScheduled.Sub(notBefore).Abs() > time.Second {
			t.Fatalf("stats = %+v, %v (not before %s)", st, err, notBefore)
		}
		start(t, q)
		waitState(t, q, "e1", 1, queue.StateDone, 20*time.Second)
		if calls := f.Calls(DocID("e1", 1)); len(calls) != 1 || calls[0].Before(notBefore.Add(-2*time.Millisecond)) {
			t.Fatalf("held job sent at %v, not before %s", calls, notBefore)
		}
	})

	t.Run("HeldOnGatewayClock", func(t *testing.T) {
		t.Parallel()
		// The gateway runs on a shifted clock (a rehearsal of go-live day):
		// 1.5 s before midnight on it, an entry held until midnight waits
		// 1.5 s of real time, though that date is long past on the wall.
		goLive := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
		f := NewFake()
		o := Options(f)
		// The shifted clock starts once the queue is open: opening (its
		// migrations) can take longer than 1.5 s on a loaded machine.
		sc := &settableClock{c: clock.NewOffset(goLive.Add(-time.Hour))}
		o.Clock = sc
		q := openQ(t, o)
		begin := time.Now()
		sc.set(clock.NewOffset(goLive.Add(-1500 * time.Millisecond)))
		d := Del("e1", 1)
		d.NotBefore, d.HeldUntilGoLive = goLive, true
		ingest(t, q, Record("e1", 1, documents.OutcomeHold), d)
		st, err := q.Stats(ctx)
		if err != nil || st.NextScheduled.Sub(goLive).Abs() > time.Second {
			t.Fatalf("next scheduled = %s, %v; want %s on the gateway clock", st.NextScheduled, err, goLive)
		}
		start(t, q)
		waitState(t, q, "e1", 1, queue.StateDone, 20*time.Second)
		if calls := f.Calls(DocID("e1", 1)); len(calls) != 1 || calls[0].Sub(begin) < 1400*time.Millisecond {
			t.Fatalf("sent %v after %s; the gateway clock reached go-live only after 1.5 s", calls, calls[0].Sub(begin))
		}
	})

	t.Run("Reschedule", func(t *testing.T) {
		t.Parallel()
		f := NewFake()
		q := openQ(t, Options(f))
		later := time.Now().Add(time.Hour)
		held := func(entry string, role documents.Role, goLive bool) {
			d := Del(entry, 1)
			d.Role, d.NotBefore, d.HeldUntilGoLive = role, later, goLive
			rec := Record(entry, 1, documents.OutcomeHold)
			rec.Role = role
			ingest(t, q, rec, d)
		}
		held("p1", documents.RolePsychologist, true)
		held("p2", documents.RolePsychologist, true)
		held("s1", documents.RoleSchoolWelfareOfficer, true)
		held("p3", documents.RolePsychologist, false) // held by a submit delay, not by go-live
		n, err := q.Reschedule(ctx, documents.RolePsychologist, later.Add(time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("Reschedule = %d, %v; want 2", n, err)
		}
		near := func(a, b time.Time) bool { return a.Sub(b).Abs() < 2*time.Second }
		for _, e := range []string{"p1", "p2"} {
			if j := job(t, q, e, 1); !near(j.ScheduledAt, later.Add(time.Hour)) {
				t.Fatalf("%s scheduled at %s", e, j.ScheduledAt)
			}
		}
		for _, e := range []string{"s1", "p3"} {
			if j := job(t, q, e, 1); !near(j.ScheduledAt, later) {
				t.Fatalf("%s moved to %s", e, j.ScheduledAt)
			}
		}
		// Go-live brought forward to (nearly) now: the jobs run on their own.
		if n, err := q.Reschedule(ctx, documents.RolePsychologist, time.Now().Add(300*time.Millisecond)); err != nil || n != 2 {
			t.Fatalf("Reschedule = %d, %v", n, err)
		}
		start(t, q)
		waitState(t, q, "p1", 1, queue.StateDone, 20*time.Second)
		waitState(t, q, "p2", 1, queue.StateDone, 20*time.Second)
		if f.Count(DocID("s1", 1)) != 0 || f.Count(DocID("p3", 1)) != 0 {
			t.Fatal("a job that was not rescheduled was sent")
		}
		if n, err := q.Reschedule(ctx, documents.RolePsychologist, later); err != nil || n != 0 {
			t.Fatalf("Reschedule of sent jobs = %d, %v; want 0", n, err)
		}
	})

	t.Run("CancelAndRetryCancelled", func(t *testing.T) {
		t.Parallel()
		f := NewFake()
		q := openQ(t, Options(f))
		d := Del("e1", 1)
		d.NotBefore = time.Now().Add(time.Hour)
		ingest(t, q, Record("e1", 1, documents.OutcomeHold), d)
		id := job(t, q, "e1", 1).ID
		if err := q.Retry(ctx, id); err == nil || jobState(q, "e1", 1) != queue.StateScheduled {
			t.Fatalf("retry of a held job: %v; it must stay held", err)
		}
		if err := q.Cancel(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := q.Cancel(ctx, id+1000); !errors.Is(err, queue.ErrNotFound) {
			t.Fatalf("cancel of an unknown job: %v", err)
		}
		j, err := q.Job(ctx, id)
		if err != nil || j.State != queue.StateCancelled || j.DeliveryState != queue.DeliveryCancelled {
			t.Fatalf("cancelled job = %+v, %v", j, err)
		}
		st, err := q.Stats(ctx)
		if err != nil || st.Depth[queue.StateCancelled] != 1 || st.Dead != 0 {
			t.Fatalf("stats = %+v, %v", st, err)
		}
		if dead, _ := q.Jobs(ctx, queue.JobFilter{State: queue.StateDead}); len(dead) != 0 {
			t.Fatal("an operator's cancel is listed as dead")
		}
		start(t, q)
		if err := q.Retry(ctx, id); err != nil {
			t.Fatal(err)
		}
		waitState(t, q, "e1", 1, queue.StateDone, 20*time.Second)
		if err := q.Retry(ctx, id); err == nil {
			t.Fatal("retry of a delivered job accepted")
		}
		if err := q.Cancel(ctx, id); err == nil {
			t.Fatal("cancel of a delivered job accepted")
		}
		if _, err := q.Job(ctx, id+1000); !errors.Is(err, queue.ErrNotFound) {
			t.Fatalf("Job of an unknown id: %v", err)
		}
	})

	t.Run("Stats", func(t *testing.T) {
		t.Parallel()
		q := openQ(t, Options(nil))
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), Del("e1", 1))
		ingest(t, q, Record("e2", 1, documents.OutcomeSubmit), Del("e2", 1))
		d := Del("e3", 1)
		next := time.Now().Add(30 * time.Minute)
		d.NotBefore = next
		ingest(t, q, Record("e3", 1, documents.OutcomeHold), d)
		time.Sleep(100 * time.Millisecond)
		st, err := q.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Depth[queue.StateAvailable] != 2 || st.Depth[queue.StateScheduled] != 1 || st.Dead != 0 {
			t.Fatalf("depth = %v", st.Depth)
		}
		if st.OldestDue < 90*time.Millisecond || st.OldestDue > time.Minute {
			t.Fatalf("oldest due = %s", st.OldestDue)
		}
		if st.NextScheduled.Sub(next).Abs() > time.Second {
			t.Fatalf("next scheduled = %s, want %s", st.NextScheduled, next)
		}
	})

	t.Run("AuditByHetuAndEntry", func(t *testing.T) {
		t.Parallel()
		q := openQ(t, Options(nil))
		rej := Record("r1", 1, documents.OutcomeReject)
		rej.ReasonClass, rej.Hetu = documents.ReasonInvalidInput, hetuB
		ingest(t, q, rej)
		skip := Record("s1", 1, documents.OutcomeSkip)
		skip.ReasonClass, skip.Hetu = documents.ReasonDraft, hetuB
		ingest(t, q, skip)
		ingest(t, q, Record("a1", 1, documents.OutcomeSubmit), Del("a1", 1)) // hetuA, nothing audited yet
		ev, err := q.Audit(ctx, queue.AuditQuery{Hetu: hetuB})
		if err != nil || len(ev) != 2 {
			t.Fatalf("audit by hetu = %+v, %v", ev, err)
		}
		if ev[0].Event != queue.EventRejected || ev[0].EntryID != "r1" || ev[1].Event != queue.EventSkipped || ev[1].EntryID != "s1" || ev[0].Hetu != hetuB {
			t.Fatalf("audit events = %+v", ev)
		}
		if ev, err := q.Audit(ctx, queue.AuditQuery{EntryID: "s1"}); err != nil || len(ev) != 1 || ev[0].Event != queue.EventSkipped {
			t.Fatalf("audit by entry = %+v, %v", ev, err)
		}
		if ev, err := q.Audit(ctx, queue.AuditQuery{Hetu: hetuA}); err != nil || len(ev) != 0 {
			t.Fatalf("audit of a queued entry = %+v, %v", ev, err)
		}
		if _, err := q.Audit(ctx, queue.AuditQuery{}); err == nil {
			t.Fatal("an empty audit query was answered")
		}
	})

	t.Run("IDlessRejectionDeduplicatedBySource", func(t *testing.T) {
		t.Parallel()
		q := openQ(t, Options(nil))
		rec := queue.LedgerRecord{File: "b.ndjson", Line: 3, Outcome: documents.OutcomeReject, ReasonClass: documents.ReasonInvalidInput, DecidedAt: time.Now()}
		if err := q.RecordEvent(ctx, rec); err == nil {
			t.Fatal("an audit event with neither entry id nor source was recorded")
		}
		rec.Source = "b.ndjson:3#aa"
		if err := q.RecordEvent(ctx, rec); err != nil {
			t.Fatal(err)
		}
		ran := false
		if err := q.RecordEventWith(ctx, rec, func() error { ran = true; return nil }); !errors.Is(err, queue.ErrAlreadyRead) || ran {
			t.Fatalf("the same source again: %v (also ran %v), want ErrAlreadyRead and also not run", err, ran)
		}
		rec.Source = "b.ndjson:3#bb" // another batch of the same name
		if err := q.RecordEvent(ctx, rec); err != nil {
			t.Fatalf("another source: %v", err)
		}
	})

	t.Run("WaitIdle", func(t *testing.T) {
		t.Parallel()
		f := NewFake()
		q := openQ(t, Options(f))
		if err := q.WaitIdle(ctx); err == nil {
			t.Fatal("WaitIdle on a stopped queue returned nil")
		}
		start(t, q)
		waitIdle(t, q, 5*time.Second) // nothing to do
		f.Script(DocID("w3", 1), queue.Result{Class: queue.Retry})
		for i := range 10 {
			e := fmt.Sprintf("w%d", i)
			ingest(t, q, Record(e, 1, documents.OutcomeSubmit), Del(e, 1))
		}
		waitIdle(t, q, 20*time.Second)
		for i := range 10 {
			if s := jobState(q, fmt.Sprintf("w%d", i), 1); s != queue.StateDone {
				t.Fatalf("w%d is %s after WaitIdle", i, s)
			}
		}
		if f.Total() != 11 {
			t.Fatalf("%d submissions, want 11", f.Total())
		}
	})

	t.Run("RestartKeepsState", func(t *testing.T) {
		t.Parallel()
		f := NewFake()
		f.Script(DocID("e3", 1), queue.Result{Class: queue.Permanent, Code: "AR"})
		q := openQ(t, Options(f))
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), Del("e1", 1))
		held := Del("e2", 1)
		held.NotBefore, held.HeldUntilGoLive = time.Now().Add(time.Hour), true
		ingest(t, q, Record("e2", 1, documents.OutcomeHold), held)
		ingest(t, q, Record("e3", 1, documents.OutcomeSubmit), Del("e3", 1))
		start(t, q)
		waitState(t, q, "e1", 1, queue.StateDone, 20*time.Second)
		waitState(t, q, "e3", 1, queue.StateDead, 20*time.Second)
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}

		f2 := NewFake()
		q2 := openQ(t, Options(f2))
		if seen, err := q2.Seen(ctx, "e2", 1); err != nil || !seen {
			t.Fatalf("Seen after restart = %v, %v", seen, err)
		}
		if err := q2.Ingest(ctx, Record("e1", 1, documents.OutcomeSubmit), []queue.Delivery{Del("e1", 1)}); !errors.Is(err, queue.ErrAlreadyRead) {
			t.Fatalf("re-ingest after restart: %v", err)
		}
		for e, want := range map[string]string{"e1": queue.StateDone, "e2": queue.StateScheduled, "e3": queue.StateDead} {
			if s := jobState(q2, e, 1); s != want {
				t.Fatalf("%s is %s after restart, want %s", e, s, want)
			}
		}
		if ev, _ := q2.Audit(ctx, queue.AuditQuery{Hetu: hetuA}); len(ev) != 2 {
			t.Fatalf("audit after restart: %+v", ev)
		}
		start(t, q2)
		waitIdle(t, q2, 10*time.Second)
		if f2.Total() != 0 {
			t.Fatalf("restart resent %d deliveries", f2.Total())
		}
	})

	runPrerequisites(t, openQ)
	runConsole(t, openQ)

	t.Run("StopReturnsInFlightToQueue", func(t *testing.T) {
		t.Parallel()
		f := NewFake()
		inFlight := make(chan struct{}, 1)
		f.Block = func(ctx context.Context, d *queue.Delivery) *queue.Result {
			inFlight <- struct{}{}
			<-ctx.Done() // a Kanta call that only ends when cancelled
			return &queue.Result{Class: queue.Retry, Err: ctx.Err()}
		}
		q := openQ(t, Options(f))
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), Del("e1", 1))
		start(t, q)
		<-inFlight
		stopCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if err := q.Stop(stopCtx); err != nil {
			t.Fatalf("stop: %v", err)
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		f2 := NewFake()
		q2 := openQ(t, Options(f2))
		j := job(t, q2, "e1", 1)
		if j.State != queue.StateAvailable || j.DeliveryState != queue.DeliveryQueued {
			t.Fatalf("interrupted job = %+v", j)
		}
		start(t, q2)
		waitIdle(t, q2, 20*time.Second)
		if f2.Count(DocID("e1", 1)) != 1 || jobState(q2, "e1", 1) != queue.StateDone {
			t.Fatal("interrupted job not delivered after restart")
		}
	})
}

// settableClock is a clock a test replaces while the queue runs.
type settableClock struct {
	mu sync.Mutex
	c  clock.Clock
}

func (s *settableClock) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c.Now()
}

func (s *settableClock) set(c clock.Clock) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c = c
}
