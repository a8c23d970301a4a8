package queuetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// RelDocID is the test document id of version v of a relationship's
// document.
func RelDocID(rel string, v int) string { return "rel-" + rel + "-" + string(rune('0'+v)) }

// RelDel is version v of a relationship's document, shared by the entries
// of that relationship, carried by (entryID, revision).
func RelDel(rel string, v int, entryID string, revision int) queue.Delivery {
	d := Del(entryID, revision)
	d.DocumentID, d.SetID, d.Version = RelDocID(rel, v), "relset-"+rel, v
	d.Shared = true
	// Each entry builds its own copy; the bytes may differ (another author).
	d.Payload = []byte("<relationship " + rel + " as built for " + entryID + ">")
	return d
}

// After makes a delivery wait for a relationship's document.
func After(d queue.Delivery, rel string) queue.Delivery {
	d.After, d.AfterWhat = "relset-"+rel, "client relationship document"
	return d
}

// docJob finds the job of a document id.
func docJob(t *testing.T, q queue.Queue, documentID string) queue.JobInfo {
	t.Helper()
	jobs, err := q.Jobs(context.Background(), queue.JobFilter{Limit: 10000})
	if err != nil {
		t.Fatalf("jobs: %v", err)
	}
	var found []queue.JobInfo
	for _, j := range jobs {
		if j.Delivery.DocumentID == documentID {
			found = append(found, j)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d jobs for %s, want 1", len(found), documentID)
	}
	return found[0]
}

func docState(q queue.Queue, documentID string) string {
	jobs, err := q.Jobs(context.Background(), queue.JobFilter{Limit: 10000})
	if err != nil {
		return "error: " + err.Error()
	}
	for _, j := range jobs {
		if j.Delivery.DocumentID == documentID {
			return j.State
		}
	}
	return "missing"
}

func runPrerequisites(t *testing.T, openQ Open) {
	ctx := context.Background()

	t.Run("PrerequisiteFirst", func(t *testing.T) {
		t.Parallel()
		f := NewFake()
		// The relationship document needs a second attempt: the entries
		// must wait for it, not just come after it in the queue.
		f.Script(RelDocID("r1", 1), queue.Result{Class: queue.Retry, Code: "HTTP 503", RetryAfter: 700 * time.Millisecond})
		q := openQ(t, Options(f))
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), RelDel("r1", 1, "e1", 1), After(Del("e1", 1), "r1"))
		// A later entry of the same relationship carries its own copy of
		// the relationship document: it is not queued again.
		ingest(t, q, Record("e2", 1, documents.OutcomeSubmit), RelDel("r1", 1, "e2", 1), After(Del("e2", 1), "r1"))
		if reason := docJob(t, q, DocID("e1", 1)).WaitReason; reason != "waiting for client relationship document "+RelDocID("r1", 1)+" (queued)" {
			t.Fatalf("entry queued with wait reason %q", reason)
		}
		if reason := docJob(t, q, DocID("e2", 1)).WaitReason; !strings.Contains(reason, RelDocID("r1", 1)) {
			t.Fatalf("second entry queued with wait reason %q", reason)
		}
		start(t, q)
		waitIdle(t, q, 20*time.Second)
		rel := f.Calls(RelDocID("r1", 1))
		if len(rel) != 2 {
			t.Fatalf("relationship document sent %d times, want 2 (one retry)", len(rel))
		}
		for _, e := range []string{"e1", "e2"} {
			calls := f.Calls(DocID(e, 1))
			if len(calls) != 1 || !calls[0].After(rel[1]) {
				t.Fatalf("%s sent at %v, relationship document accepted at %s", e, calls, rel[1])
			}
			if j := docJob(t, q, DocID(e, 1)); j.State != queue.StateDone || j.WaitReason != "" {
				t.Fatalf("%s = %+v", e, j)
			}
		}
		if j := docJob(t, q, RelDocID("r1", 1)); j.Delivery.EntryID != "e1" || j.State != queue.StateDone {
			t.Fatalf("relationship document job = %+v", j)
		}
	})

	t.Run("SharedOnceInOneBatch", func(t *testing.T) {
		t.Parallel()
		f := NewFake()
		q := openQ(t, Options(f))
		items := []queue.Ingestion{
			{Record: Record("e1", 1, documents.OutcomeSubmit), Deliveries: []queue.Delivery{RelDel("r1", 1, "e1", 1), After(Del("e1", 1), "r1")}},
			{Record: Record("e2", 1, documents.OutcomeSubmit), Deliveries: []queue.Delivery{RelDel("r1", 1, "e2", 1), After(Del("e2", 1), "r1")}},
		}
		results, err := q.IngestBatch(ctx, items)
		if err != nil || results[0] != nil || results[1] != nil {
			t.Fatalf("IngestBatch = %v, %v", results, err)
		}
		jobs, err := q.Jobs(ctx, queue.JobFilter{})
		if err != nil || len(jobs) != 3 {
			t.Fatalf("%d jobs, %v; want 3 (one relationship document, two entries)", len(jobs), err)
		}
		stored, err := q.StoredDocuments(ctx, []string{RelDocID("r1", 1), DocID("e2", 1), "unknown"})
		if err != nil || len(stored) != 2 || !stored[RelDocID("r1", 1)] || !stored[DocID("e2", 1)] {
			t.Fatalf("StoredDocuments = %v, %v", stored, err)
		}
		// A re-ingest of the same revisions inserts nothing.
		results, err = q.IngestBatch(ctx, items)
		if err != nil || results[0] != queue.ErrAlreadyRead || results[1] != queue.ErrAlreadyRead {
			t.Fatalf("re-ingest = %v, %v", results, err)
		}
		start(t, q)
		waitIdle(t, q, 20*time.Second)
		if n := f.Count(RelDocID("r1", 1)); n != 1 {
			t.Fatalf("relationship document sent %d times", n)
		}
		if f.Total() != 3 {
			t.Fatalf("%d submissions, want 3", f.Total())
		}
	})

	t.Run("DeadPrerequisiteHoldsItsDependants", func(t *testing.T) {
		t.Parallel()
		f := NewFake()
		f.Script(RelDocID("r1", 1), queue.Result{Class: queue.Permanent, Code: "AR", Detail: "E88", Text: "invalid structure"})
		q := openQ(t, Options(f))
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), RelDel("r1", 1, "e1", 1), After(Del("e1", 1), "r1"))
		ingest(t, q, Record("e2", 1, documents.OutcomeSubmit), RelDel("r1", 1, "e2", 1), After(Del("e2", 1), "r1"))
		// Another relationship's entry is not held up.
		ingest(t, q, Record("e9", 1, documents.OutcomeSubmit), RelDel("r9", 1, "e9", 1), After(Del("e9", 1), "r9"))
		start(t, q)
		relJob := waitDocState(t, q, RelDocID("r1", 1), queue.StateDead)
		want := "waiting for client relationship document " + RelDocID("r1", 1) + " (dead: AR code E88)"
		for _, e := range []string{"e1", "e2"} {
			waitFor(t, 10*time.Second, e+" to say why it waits", func() bool {
				return docJob(t, q, DocID(e, 1)).WaitReason == want
			})
		}
		// Blocked dependants do not keep WaitIdle waiting.
		waitIdle(t, q, 20*time.Second)
		if f.Count(DocID("e1", 1)) != 0 || f.Count(DocID("e2", 1)) != 0 {
			t.Fatal("an entry was sent while its relationship document is dead")
		}
		if f.Count(DocID("e9", 1)) != 1 {
			t.Fatal("another relationship's entry was held up")
		}
		// The operator retries the relationship document: Kanta takes it now,
		// and its entries follow.
		if err := q.Retry(ctx, relJob.ID); err != nil {
			t.Fatal(err)
		}
		waitDocState(t, q, DocID("e1", 1), queue.StateDone)
		waitDocState(t, q, DocID("e2", 1), queue.StateDone)
		rel := f.Calls(RelDocID("r1", 1))
		for _, e := range []string{"e1", "e2"} {
			if calls := f.Calls(DocID(e, 1)); len(rel) != 2 || len(calls) != 1 || !calls[0].After(rel[1]) {
				t.Fatalf("%s calls %v, relationship document calls %v", e, calls, rel)
			}
		}
	})

	t.Run("PrerequisiteDeliveredEarlierAndClosed", func(t *testing.T) {
		t.Parallel()
		f := NewFake()
		q := openQ(t, Options(f))
		ingest(t, q, Record("e1", 1, documents.OutcomeSubmit), RelDel("r1", 1, "e1", 1), After(Del("e1", 1), "r1"))
		start(t, q)
		waitIdle(t, q, 20*time.Second)
		// The relationship has closed: a later entry calls for version 1
		// (stored already: not queued again) and version 2 (new). Version 1
		// is delivered, so the entry does not wait for version 2.
		f.Script(RelDocID("r1", 2), queue.Result{Class: queue.Retry, Code: "HTTP 503", RetryAfter: 500 * time.Millisecond})
		ingest(t, q, Record("e2", 1, documents.OutcomeSubmit), RelDel("r1", 1, "e2", 1), RelDel("r1", 2, "e2", 1), After(Del("e2", 1), "r1"))
		if j := docJob(t, q, DocID("e2", 1)); j.WaitReason != "" {
			t.Fatalf("entry waits (%q) though its relationship document is delivered", j.WaitReason)
		}
		waitIdle(t, q, 20*time.Second)
		if n := f.Count(RelDocID("r1", 1)); n != 1 {
			t.Fatalf("relationship version 1 sent %d times", n)
		}
		v2, e2 := f.Calls(RelDocID("r1", 2)), f.Calls(DocID("e2", 1))
		if len(v2) != 2 || len(e2) != 1 || !e2[0].Before(v2[1]) {
			t.Fatalf("version 2 calls %v, entry calls %v: the entry should not have waited for version 2", v2, e2)
		}
	})

	t.Run("SharedDocumentAuditedAsAccepted", func(t *testing.T) {
		t.Parallel()
		// The revision that carries the relationship's document (version 2,
		// the relationship closed) invalidates its entry: the relationship
		// document is accepted, the entry's version invalidated.
		f := NewFake()
		q := openQ(t, Options(f))
		ingest(t, q, Record("e1", 2, documents.OutcomeInvalidate), RelDel("r1", 1, "e1", 2), After(Del("e1", 2), "r1"))
		start(t, q)
		waitIdle(t, q, 20*time.Second)
		ev, err := q.Audit(ctx, queue.AuditQuery{EntryID: "e1"})
		if err != nil || len(ev) != 2 {
			t.Fatalf("audit = %+v, %v", ev, err)
		}
		got := map[string]string{}
		for _, e := range ev {
			got[e.DocumentID] = e.Event
		}
		if got[RelDocID("r1", 1)] != queue.EventAccepted || got[DocID("e1", 2)] != queue.EventInvalidated {
			t.Fatalf("audit events by document: %v", got)
		}
	})

	t.Run("HeldPrerequisite", func(t *testing.T) {
		t.Parallel()
		// Held until the same go-live: at that moment both come due, and
		// the entry still goes second.
		f := NewFake()
		f.Script(RelDocID("r1", 1), queue.Result{Class: queue.Retry, Code: "HTTP 503", RetryAfter: 500 * time.Millisecond})
		q := openQ(t, Options(f))
		goLive := time.Now().Add(1200 * time.Millisecond)
		rel, entry := RelDel("r1", 1, "e1", 1), After(Del("e1", 1), "r1")
		rel.NotBefore, rel.HeldUntilGoLive = goLive, true
		entry.NotBefore, entry.HeldUntilGoLive = goLive, true
		ingest(t, q, Record("e1", 1, documents.OutcomeHold), entry, rel) // in either order
		start(t, q)
		waitDocState(t, q, DocID("e1", 1), queue.StateDone)
		r, e := f.Calls(RelDocID("r1", 1)), f.Calls(DocID("e1", 1))
		if len(r) != 2 || len(e) != 1 || !e[0].After(r[1]) || r[0].Before(goLive.Add(-2*time.Millisecond)) {
			t.Fatalf("relationship calls %v, entry calls %v, go-live %s", r, e, goLive)
		}
	})
}

func waitDocState(t *testing.T, q queue.Queue, documentID, state string) queue.JobInfo {
	t.Helper()
	waitFor(t, 20*time.Second, documentID+" to be "+state, func() bool { return docState(q, documentID) == state })
	return docJob(t, q, documentID)
}
