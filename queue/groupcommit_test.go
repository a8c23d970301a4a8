package queue

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

func TestGroupCommitSQLite(t *testing.T)   { runSQLite(t, testGroupCommit) }
func TestGroupCommitPostgres(t *testing.T) { runPostgres(t, testGroupCommit) }

// Records of acknowledged deliveries that arrive together are committed
// together; every record is written, and a record that cannot be written
// fails alone.
func testGroupCommit(t *testing.T, open func(o Options) Queue, pool func(q Queue) (execer, dialect)) {
	ctx := context.Background()
	q := open(Options{Logger: slog.New(slog.DiscardHandler)})
	defer q.Close()
	s, ok := q.(interface {
		delivered(context.Context, *Delivery, Result) error
	})
	if !ok {
		t.Fatalf("%T has no delivered method", q)
	}
	const n = 40 // and one more, which the database refuses
	var items []Ingestion
	var ds []*Delivery
	for i := 0; i <= n; i++ {
		d := &Delivery{DocumentID: fmt.Sprintf("doc-%02d", i), SetID: fmt.Sprintf("set-%02d", i), Version: 1,
			EntryID: fmt.Sprintf("entry-%02d", i), Revision: 1, Route: RouteCDA, Role: documents.RolePsychologist,
			Payload: []byte("<signed archive message/>")}
		ds = append(ds, d)
		items = append(items, Ingestion{Record: LedgerRecord{EntryID: d.EntryID, Revision: 1, Outcome: documents.OutcomeSubmit,
			DocumentID: d.DocumentID, SetID: d.SetID, Version: 1}, Deliveries: []Delivery{*d}})
	}
	if _, err := q.IngestBatch(ctx, items); err != nil {
		t.Fatal(err)
	}
	x, dl := pool(q)
	refuse := []string{`CREATE TRIGGER refuse_record BEFORE UPDATE ON deliveries
		WHEN OLD.document_id = 'doc-40' BEGIN SELECT RAISE(ABORT, 'refused'); END`}
	if dl.name != "sqlite" {
		refuse = []string{`CREATE FUNCTION refuse_record() RETURNS trigger AS $$
			BEGIN IF OLD.document_id = 'doc-40' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
			`CREATE TRIGGER refuse_record BEFORE UPDATE ON deliveries FOR EACH ROW EXECUTE FUNCTION refuse_record()`}
	}
	for _, stmt := range refuse {
		if _, err := x.exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}

	before := q.(interface{ groupCommits() int64 }).groupCommits()
	errs := make([]error, len(ds))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = s.delivered(ctx, d, Result{Class: Accepted, Code: "AA"})
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs[:n] {
		if err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	}
	if errs[n] == nil {
		t.Error("the refused record was written")
	}
	commits := q.(interface{ groupCommits() int64 }).groupCommits() - before
	if commits >= int64(len(ds)) {
		t.Errorf("%d commits for %d concurrent records: nothing was grouped", commits, len(ds))
	}
	t.Logf("%d records in %d group commits", len(ds), commits)

	jobs, err := q.Jobs(ctx, JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	delivered := 0
	for _, j := range jobs {
		if j.DeliveryState == "delivered" && j.AckCode == "AA" {
			delivered++
		}
	}
	if delivered != n {
		t.Errorf("%d deliveries recorded as delivered, want %d", delivered, n)
	}
	var audited int
	if err := x.queryRow(ctx, `SELECT count(*) FROM audit WHERE event = '`+EventAccepted+`'`).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if audited != n {
		t.Errorf("%d accepted audit events, want %d", audited, n)
	}
}
