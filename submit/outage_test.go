package submit

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// An outage longer than queue.max_attempts would survive, with the
// circuit breaker open most of it: the breaker's refusals spend no
// attempt, the half-open trials that reach Kanta are bounded by age
// (max_retry_age), and when Kanta comes back the document is delivered,
// not dead. The real submitter and breaker run on the real SQLite queue.
func TestOutageLongerThanMaxAttemptsDelays(t *testing.T) {
	const maxAttempts, outageRequests = 3, 5
	var reached atomic.Int32 // requests that reached Kanta
	down := func() bool { return reached.Add(1) <= outageRequests }
	unavailable := func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }
	f := &fakeKanta{t: t, envelope: wire.EnvelopeNone,
		answer: func(w http.ResponseWriter) {
			if down() {
				unavailable(w)
				return
			}
			answerWith(200, ackBody(wire.AckCommitAccept, wire.DetailAccepted, requestID))(w)
		},
		query: func(w http.ResponseWriter, q *wire.StoredQuery) {
			if down() {
				unavailable(w)
				return
			}
			storedAnswer(wire.QueryNotFound)(w, q)
		}}
	sub := newSubmitter(t, f, func(c *Config) {
		c.BreakerFailures, c.BreakerOpenFor, c.QuickRetries = 1, time.Second, 0
	})

	var mu sync.Mutex
	var refused, failed int
	q, err := queue.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "gateway.db"), queue.Options{
		Workers: 2, RetryBase: 10 * time.Millisecond, RetryCap: 50 * time.Millisecond,
		MaxAttempts: maxAttempts, MaxRetryAge: time.Hour,
		OrderWait: 50 * time.Millisecond, PollInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), Submitter: sub,
		OnResult: func(_ *queue.Delivery, r queue.Result, _ int) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.Refused:
				refused++
			case r.Class == queue.Retry:
				failed++
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx := context.Background()
	rec := queue.LedgerRecord{EntryID: "e1", Revision: 1, Outcome: documents.OutcomeSubmit, DocumentID: documentID, SetID: "set-1", Version: 1, DecidedAt: time.Now()}
	d := queue.Delivery{DocumentID: documentID, SetID: "set-1", Version: 1, Route: RouteCDA, Interaction: "RCMR_IN200002FI01", Payload: frame}
	if err := q.Ingest(ctx, rec, []queue.Delivery{d}); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	var j queue.JobInfo
	for {
		jobs, err := q.Jobs(ctx, queue.JobFilter{EntryID: "e1"})
		if err != nil || len(jobs) != 1 {
			t.Fatalf("jobs = %+v, %v", jobs, err)
		}
		if j = jobs[0]; j.State == queue.StateDone || j.State == queue.StateDead || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if j.State != queue.StateDone || j.DeliveryState != queue.DeliveryDelivered {
		t.Fatalf("after an outage of %d failed requests (%d failed attempts, %d refusals) the job is %s/%s, ack %s %s",
			outageRequests, failed, refused, j.State, j.DeliveryState, j.AckCode, j.AckText)
	}
	if failed <= maxAttempts || refused == 0 {
		t.Fatalf("%d failed attempts and %d breaker refusals: the outage was not longer than max_attempts with the breaker open", failed, refused)
	}
	// River counted the attempts that reached Kanta only.
	if j.Attempt != failed+1 {
		t.Fatalf("River counted %d attempts; %d failed at Kanta and one was accepted (%d refusals must not count)", j.Attempt, failed, refused)
	}
}

// A request whose rate-limit turn comes after the attempt's deadline is
// refused without being sent (Refused: no attempt spent), and the breaker
// learns nothing from it.
func TestRateLimitRefusalIsNoAttempt(t *testing.T) {
	f := &fakeKanta{t: t, envelope: wire.EnvelopeNone, answer: answerWith(200, ackBody(wire.AckCommitAccept, wire.DetailAccepted, requestID))}
	s := newSubmitter(t, f, func(c *Config) { c.RateLimit = 0.5; c.BreakerFailures = 1 })
	ctx, cancel := context.WithTimeout(attempt(1), 200*time.Millisecond)
	defer cancel()
	if r := s.Submit(ctx, delivery()); r.Class != queue.Accepted {
		t.Fatalf("first: %+v", r)
	}
	r := s.Submit(ctx, delivery())
	if r.Class != queue.Retry || !r.Refused || r.Code != CodeRateLimited || r.RetryAfter < time.Second {
		t.Fatalf("second, over the rate: %+v", r)
	}
	if posts, _ := f.counts(); posts != 1 {
		t.Fatalf("%d archive posts, want 1 (the refused one is not sent)", posts)
	}
	if st := s.BreakerState(); st != BreakerClosed {
		t.Fatalf("breaker %s after a rate-limit refusal", st)
	}
}
