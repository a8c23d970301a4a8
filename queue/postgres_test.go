package queue_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/internal/pgtest"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
	"github.com/helsinki-student-welfare/kanta-gateway/queue/queuetest"
)

var pgSchemas sync.Map // test -> DSN of its own schema

// postgresStore returns a DSN whose search_path is a fresh schema for this
// test (the same one when the test asks again); pgtest fails the test when
// PostgreSQL is not configured or unreachable.
func postgresStore(t testing.TB) string {
	t.Helper()
	if v, ok := pgSchemas.Load(t); ok {
		return v.(string)
	}
	dsn := pgtest.Schema(t, "qt")
	pgSchemas.Store(t, dsn)
	t.Cleanup(func() { pgSchemas.Delete(t) })
	return dsn
}

func openPostgres(t *testing.T, o queue.Options) queue.Queue {
	t.Helper()
	q, err := queue.OpenPostgres(context.Background(), postgresStore(t), o)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	return q
}

func TestPostgres(t *testing.T) {
	queuetest.Run(t, openPostgres)
}

// Two replicas share one database and drain 200 deliveries between them:
// every delivery reaches Kanta exactly once.
func TestPostgresTwoReplicas(t *testing.T) {
	const n = 200
	f := queuetest.NewFake()
	var mu sync.Mutex
	byReplica := map[int]int{}
	open := func(replica int) queue.Queue {
		o := queuetest.Options(f)
		o.OnResult = func(*queue.Delivery, queue.Result, int) {
			mu.Lock()
			byReplica[replica]++
			mu.Unlock()
		}
		q := openPostgres(t, o)
		t.Cleanup(func() { _ = q.Close() })
		return q
	}
	a, b := open(1), open(2)
	ctx := context.Background()
	for i := range n {
		e := fmt.Sprintf("r%03d", i)
		q := a
		if i%2 == 1 {
			q = b
		}
		if err := q.Ingest(ctx, queuetest.Record(e, 1, documents.OutcomeSubmit), []queue.Delivery{queuetest.Del(e, 1)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []queue.Queue{a, b} {
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, q := range []queue.Queue{a, b} {
		if err := q.WaitIdle(waitCtx); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		doc := queuetest.DocID(fmt.Sprintf("r%03d", i), 1)
		if c := f.Count(doc); c != 1 {
			t.Fatalf("%s submitted %d times", doc, c)
		}
	}
	st, err := a.Stats(ctx)
	if err != nil || st.Depth[queue.StateDone] != n {
		t.Fatalf("stats = %+v, %v", st, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if byReplica[1]+byReplica[2] != n || byReplica[1] == 0 || byReplica[2] == 0 {
		t.Fatalf("work split between replicas: %v", byReplica)
	}
	t.Logf("replica 1 sent %d, replica 2 sent %d", byReplica[1], byReplica[2])
}

// Two replicas take in entries of the same client relationships at the same
// time, each carrying its own copy of the relationship's document: each
// document is queued once, no ingestion fails, and every entry is sent
// after its relationship's document.
func TestPostgresTwoReplicasShareDocuments(t *testing.T) {
	const rels, perRel = 20, 4
	f := queuetest.NewFake()
	open := func() queue.Queue {
		q := openPostgres(t, queuetest.Options(f))
		t.Cleanup(func() { _ = q.Close() })
		return q
	}
	replicas := []queue.Queue{open(), open()}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, len(replicas))
	for r, q := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rels * perRel {
				rel := fmt.Sprintf("r%02d", i/perRel)
				e := fmt.Sprintf("e%d-%03d", r, i)
				items := []queue.Ingestion{{Record: queuetest.Record(e, 1, documents.OutcomeSubmit),
					Deliveries: []queue.Delivery{queuetest.RelDel(rel, 1, e, 1), queuetest.After(queuetest.Del(e, 1), rel)}}}
				if _, err := q.IngestBatch(ctx, items); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	jobs, err := replicas[0].Jobs(ctx, queue.JobFilter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if want := rels + 2*rels*perRel; len(jobs) != want {
		t.Fatalf("%d jobs, want %d (one document per relationship)", len(jobs), want)
	}
	for _, q := range replicas {
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, q := range replicas {
		if err := q.WaitIdle(waitCtx); err != nil {
			t.Fatal(err)
		}
	}
	for i := range rels * perRel {
		rel := queuetest.RelDocID(fmt.Sprintf("r%02d", i/perRel), 1)
		relCalls := f.Calls(rel)
		if len(relCalls) != 1 {
			t.Fatalf("%s submitted %d times", rel, len(relCalls))
		}
		for r := range replicas {
			calls := f.Calls(queuetest.DocID(fmt.Sprintf("e%d-%03d", r, i), 1))
			if len(calls) != 1 || !calls[0].After(relCalls[0]) {
				t.Fatalf("entry %d of replica %d sent %v, its relationship document at %v", i, r, calls, relCalls)
			}
		}
	}
}
