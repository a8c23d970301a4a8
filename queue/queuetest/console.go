package queuetest

import (
	"context"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// runConsole checks what the operators' console asks of the queue: the
// held backlog by archive and date, operator actions audited with who
// acted, and the replicas seen.
func runConsole(t *testing.T, openQ Open) {
	ctx := context.Background()

	t.Run("HeldByArchiveAndDate", func(t *testing.T) {
		t.Parallel()
		// A clock that stands still while the wall clock moves: River's
		// scheduled_at for one go-live instant then differs between jobs
		// ingested a few milliseconds apart, as it does by microseconds in
		// production, and Held must still show them as one group.
		o := Options(nil)
		o.Clock = clock.NewManual(time.Now())
		q := openQ(t, o)
		goLive := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
		for i, id := range []string{"h1", "h2", "h3"} {
			time.Sleep(5 * time.Millisecond)
			rec := Record(id, 1, documents.OutcomeHold)
			d := Del(id, 1)
			if i < 2 {
				rec.Archive, d.Archive = documents.ArchiveSocial, documents.ArchiveSocial
				d.NotBefore, d.HeldUntilGoLive = goLive, true
			} else {
				d.NotBefore = goLive.Add(48 * time.Hour)
			}
			ingest(t, q, rec, d)
		}
		ingest(t, q, Record("due", 1, documents.OutcomeSubmit), Del("due", 1)) // due now: not held
		held, err := q.Held(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(held) != 2 {
			t.Fatalf("held = %+v, want 2 groups", held)
		}
		first, second := held[0], held[1]
		if first.Archive != documents.ArchiveSocial || first.Count != 2 || !first.GoLive || first.Until.Sub(goLive).Abs() > time.Second {
			t.Errorf("first group %+v, want 2 social held by go-live until %s", first, goLive)
		}
		if second.Archive != documents.ArchivePatient || second.Count != 1 || second.GoLive || second.Until.Sub(goLive.Add(48*time.Hour)).Abs() > time.Second {
			t.Errorf("second group %+v, want 1 patient held by a delay", second)
		}
	})

	t.Run("OperatorActionsAuditedWithActor", func(t *testing.T) {
		t.Parallel()
		fake := NewFake()
		fake.SetDefault(queue.Result{Class: queue.Permanent, Code: "AR", Detail: "PROFILE_VIOLATION", Text: "refused"})
		q := openQ(t, Options(fake))
		ingest(t, q, Record("op", 1, documents.OutcomeSubmit), Del("op", 1))
		start(t, q)
		j := waitState(t, q, "op", 1, queue.StateDead, 30*time.Second)
		fake.SetDefault(queue.Result{Class: queue.Accepted, Code: "AA"})
		// Without an actor (internal use) nothing is written.
		if err := q.Retry(queue.WithActor(ctx, "console:alice"), j.ID); err != nil {
			t.Fatal(err)
		}
		waitState(t, q, "op", 1, queue.StateDone, 30*time.Second)
		ingest(t, q, Record("op2", 1, documents.OutcomeHold), func() queue.Delivery {
			d := Del("op2", 1)
			d.NotBefore = time.Now().Add(time.Hour)
			return d
		}())
		j2 := job(t, q, "op2", 1)
		if err := q.Cancel(queue.WithActor(ctx, "cli:root"), j2.ID); err != nil {
			t.Fatal(err)
		}
		evs, err := q.Audit(ctx, queue.AuditQuery{Operator: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 {
			t.Fatalf("operator events %+v, want 2", evs)
		}
		// The latest first.
		if evs[0].Event != queue.EventOperatorCancel || evs[0].Actor != "cli:root" || evs[0].EntryID != "op2" {
			t.Errorf("latest operator event %+v", evs[0])
		}
		if e := evs[1]; e.Event != queue.EventOperatorRetry || e.Actor != "console:alice" || e.EntryID != "op" || e.DocumentID != DocID("op", 1) || e.Time.IsZero() {
			t.Errorf("retry event %+v", e)
		}
		// An entry's audit shows the operator's action beside Kanta's.
		byEntry, err := q.Audit(ctx, queue.AuditQuery{EntryID: "op"})
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range byEntry {
			kinds = append(kinds, e.Event+"/"+e.Actor)
		}
		want := []string{queue.EventDead + "/", queue.EventOperatorRetry + "/console:alice", queue.EventAccepted + "/"}
		if len(kinds) != len(want) {
			t.Fatalf("audit of op: %v, want %v", kinds, want)
		}
		for i := range want {
			if kinds[i] != want[i] {
				t.Fatalf("audit of op: %v, want %v", kinds, want)
			}
		}
		// A retry without an actor (no one named) writes no operator row.
		fake.SetDefault(queue.Result{Class: queue.Permanent, Code: "AR"})
		ingest(t, q, Record("op3", 1, documents.OutcomeSubmit), Del("op3", 1))
		j3 := waitState(t, q, "op3", 1, queue.StateDead, 30*time.Second)
		if err := q.Retry(ctx, j3.ID); err != nil {
			t.Fatal(err)
		}
		if evs, _ := q.Audit(ctx, queue.AuditQuery{Operator: true}); len(evs) != 2 {
			t.Errorf("a retry without an actor was audited: %+v", evs)
		}
	})

	t.Run("ReplicasSeen", func(t *testing.T) {
		t.Parallel()
		q := openQ(t, Options(NewFake()))
		ingest(t, q, Record("r1", 1, documents.OutcomeSubmit), Del("r1", 1))
		start(t, q)
		waitState(t, q, "r1", 1, queue.StateDone, 30*time.Second)
		var reps []queue.Replica
		waitFor(t, 30*time.Second, "this process seen and elected leader", func() bool {
			var err error
			reps, err = q.Replicas(ctx)
			return err == nil && len(reps) == 1 && reps[0].This && reps[0].Leader && !reps[0].LastSeen.IsZero()
		})
		if reps[0].ID == "" {
			t.Errorf("replica without id: %+v", reps)
		}
	})
}
