package submit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// outageKanta is an archive that can be switched off (connection refused:
// nothing listens on its address), made to answer 503, or be up. Up, it
// stores each archive message it accepts by the document's id and answers
// stored-document queries from what it stored; one document (poisoned)
// is refused with 503 even when it is up.
type outageKanta struct {
	t        *testing.T
	addr     string
	poisoned string
	mu       sync.Mutex
	srv      *http.Server
	down503  bool
	stored   map[string]int // accepted archive messages by document id
	failures map[string]int // 503 answers by document id
}

func newOutageKanta(t *testing.T, poisoned string) *outageKanta {
	k := &outageKanta{t: t, poisoned: poisoned, stored: map[string]int{}, failures: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k.addr = ln.Addr().String()
	k.serve(ln)
	t.Cleanup(func() { k.setRefused() })
	return k
}

// serve serves on ln; the caller holds k.mu or is the constructor.
func (k *outageKanta) serve(ln net.Listener) {
	srv := &http.Server{Handler: k}
	k.srv = srv
	go func() { _ = srv.Serve(ln) }()
}

// setRefused closes the listener: connections are refused.
func (k *outageKanta) setRefused() {
	k.mu.Lock()
	srv := k.srv
	k.srv = nil
	k.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// set503 listens again (on the same address) and answers 503; setUp
// listens and answers.
func (k *outageKanta) set503(on bool) {
	k.mu.Lock()
	k.down503 = on
	listening := k.srv != nil
	k.mu.Unlock()
	if listening {
		return
	}
	ln, err := net.Listen("tcp", k.addr)
	if err != nil {
		k.t.Fatalf("listen again on %s: %v", k.addr, err)
	}
	k.mu.Lock()
	k.serve(ln)
	k.mu.Unlock()
}

func (k *outageKanta) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	doc := r.Header.Get("X-Document-Id")
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.down503 || doc == k.poisoned {
		k.failures[doc]++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	o, err := wire.Open(body)
	if err != nil {
		k.t.Errorf("request of %s: %v", doc, err)
		return
	}
	if o.Root.Local == wire.DefaultQueryInteraction {
		q, err := wire.ParseStoredQuery(body, "")
		if err != nil {
			k.t.Errorf("query: %v", err)
			return
		}
		code := wire.QueryNotFound
		if k.stored[q.DocumentID] > 0 {
			code = wire.QueryFound
		}
		storedAnswer(code)(w, q)
		return
	}
	k.stored[doc]++
	w.Write(ackBody(wire.AckCommitAccept, wire.DetailAccepted, messageIDOf(doc)))
}

// messageIDOf is the archive message id of a test document: its frame
// carries it, and the acknowledgement must name it.
func messageIDOf(doc string) string { return doc + ".1" }

func frameOf(doc string) []byte {
	return []byte(strings.Replace(string(frame), `<id root="`+requestID+`"/>`, `<id root="`+messageIDOf(doc)+`"/>`, 1))
}

// An outage of Kanta far longer than queue.max_attempts × the backoff
// would survive (connection refused, then 503), within
// queue.max_retry_age: no document is dead-lettered during it, each is
// delivered once Kanta is back, exactly once. A document Kanta keeps
// refusing is dead-lettered only when it is older than max_retry_age,
// with a reason that says so. Short configured durations stand in for
// hours and days; the real submitter runs on the real SQLite queue.
func TestLongOutageDeliversEveryDocumentOnceAndAgesOutTheRest(t *testing.T) {
	const (
		docs        = 6
		maxAttempts = 3
		retryCap    = 50 * time.Millisecond
		maxRetryAge = 8 * time.Second
	)
	var start time.Time
	poisoned := "1.2.246.10.2012566.10.1.99.100"
	k := newOutageKanta(t, poisoned)
	sub, err := New(Config{ArchiveURL: "http://" + k.addr + "/archive", FHIRURL: "http://" + k.addr + "/fhir", Timeout: 2 * time.Second,
		Envelope: wire.EnvelopeNone, ArchiveAction: "urn:archive", QueryAction: "urn:query", QuickRetries: 0, BreakerFailures: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	failed := map[string]int{} // real attempts that failed, by document
	q, err := queue.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "gateway.db"), queue.Options{
		Workers: 2, RetryBase: 10 * time.Millisecond, RetryCap: retryCap,
		MaxAttempts: maxAttempts, MaxRetryAge: maxRetryAge,
		OrderWait: 50 * time.Millisecond, PollInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), Submitter: sub,
		OnResult: func(d *queue.Delivery, r queue.Result, _ int) {
			if r.Class == queue.Retry && !r.Refused {
				mu.Lock()
				failed[d.DocumentID]++
				mu.Unlock()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ctx := context.Background()
	var ids []string
	for i := range docs {
		ids = append(ids, fmt.Sprintf("1.2.246.10.2012566.10.1.99.%d", i+1))
	}
	ids = append(ids, poisoned)
	for i, id := range ids {
		entry := fmt.Sprintf("e%d", i)
		rec := queue.LedgerRecord{EntryID: entry, Revision: 1, Outcome: documents.OutcomeSubmit, DocumentID: id, SetID: "set-" + entry, Version: 1, DecidedAt: time.Now()}
		d := queue.Delivery{DocumentID: id, SetID: "set-" + entry, Version: 1, Route: RouteCDA, Interaction: "RCMR_IN200002FI01", Payload: frameOf(id)}
		if err := q.Ingest(ctx, rec, []queue.Delivery{d}); err != nil {
			t.Fatal(err)
		}
	}
	jobs := func() map[string]queue.JobInfo {
		t.Helper()
		all, err := q.Jobs(ctx, queue.JobFilter{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]queue.JobInfo{}
		for _, j := range all {
			out[j.Delivery.DocumentID] = j
		}
		return out
	}
	noneDead := func(when string) {
		t.Helper()
		for id, j := range jobs() {
			if j.State == queue.StateDead {
				t.Fatalf("%s: %s dead-lettered (%s %s) within max_retry_age", when, id, j.AckCode, j.AckText)
			}
		}
	}

	// failedAtLeast waits until every document has failed n real attempts
	// (the machine is shared: attempts are counted, not timed).
	failedAtLeast := func(n int, phase string) {
		t.Helper()
		for {
			mu.Lock()
			low := ""
			for _, id := range ids {
				if failed[id] < n {
					low = fmt.Sprintf("%s failed %d", id, failed[id])
					break
				}
			}
			mu.Unlock()
			if low == "" {
				return
			}
			if time.Since(start) > maxRetryAge-2*time.Second {
				t.Fatalf("%s: %s of %d attempts %s after the outage began, too near max_retry_age %s (machine too slow for the test's durations)", phase, low, n, time.Since(start), maxRetryAge)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	k.setRefused()
	start = time.Now()
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	failedAtLeast(2, "connection refused")
	noneDead("connection refused")
	k.set503(true)
	// Past max_attempts for every document: attempts alone would have
	// dead-lettered them all.
	failedAtLeast(maxAttempts+2, "503")
	noneDead("503")
	k.set503(false) // Kanta is back

	deadline := time.Now().Add(maxRetryAge + 30*time.Second)
	for {
		js := jobs()
		settled := true
		for _, j := range js {
			if j.State != queue.StateDone && j.State != queue.StateDead {
				settled = false
			}
		}
		if settled || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	js := jobs()
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, id := range ids[:docs] {
		j := js[id]
		if j.State != queue.StateDone || j.DeliveryState != queue.DeliveryDelivered {
			t.Errorf("%s after the outage: %s/%s %s %s, want delivered", id, j.State, j.DeliveryState, j.AckCode, j.AckText)
		}
		if n := k.stored[id]; n != 1 {
			t.Errorf("%s stored %d times at Kanta, want exactly once", id, n)
		}
	}
	j := js[poisoned]
	if j.State != queue.StateDead || j.DeliveryState != queue.DeliveryDead || j.AckCode != "HTTP_503" {
		t.Fatalf("the document Kanta keeps refusing: %s/%s %s, want dead with HTTP_503", j.State, j.DeliveryState, j.AckCode)
	}
	if len(j.Errors) == 0 {
		t.Fatal("dead without recorded errors")
	}
	if age := j.FinalizedAt.Sub(j.Errors[0].At); age < maxRetryAge {
		t.Errorf("dead-lettered %s after its first failure, before max_retry_age %s", age, maxRetryAge)
	}
	for _, want := range []string{"retries used up", "queue.max_retry_age 8s", "queue.max_attempts 3", "since the first failure"} {
		if !strings.Contains(j.AckText, want) {
			t.Errorf("dead reason %q does not say %q", j.AckText, want)
		}
	}
	if k.stored[poisoned] != 0 {
		t.Errorf("the refused document was stored")
	}
}
