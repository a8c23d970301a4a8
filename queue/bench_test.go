package queue_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
	"github.com/helsinki-student-welfare/kanta-gateway/queue/queuetest"
)

// benchmarkIngest measures one entry revision's ingestion: ledger row,
// River job, delivery row, in one transaction.
func benchmarkIngest(b *testing.B, q queue.Queue) {
	ctx := context.Background()
	run := time.Now().UnixNano() // a benchmark function runs several times on one store
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		e := fmt.Sprintf("bench-%d-%d", run, i)
		if err := q.Ingest(ctx, queuetest.Record(e, 1, documents.OutcomeSubmit), []queue.Delivery{queuetest.Del(e, 1)}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIngestSQLite(b *testing.B) {
	q, err := queue.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "bench.db"), queue.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	benchmarkIngest(b, q)
}

func BenchmarkIngestPostgres(b *testing.B) {
	q, err := queue.OpenPostgres(context.Background(), postgresStore(b), queue.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	benchmarkIngest(b, q)
}

// BenchmarkReports times what the console and /metrics ask of a go-live
// backlog: Stats, Held, Replicas, the operators' audit and the first
// page of jobs, on KANTA_REPORTS_HELD (default 100,000) deliveries held
// until a go-live, each with a 16 KiB payload beside its job (a signed
// document's size). KANTA_REPORTS_DB names a queue database to read
// instead, e.g. a burst's held queue (KANTA_BURST_KEEP_DB, e2e); it is
// opened as it is, without writing, when its schema is current.
//
//	go test ./queue -run '^$' -bench Reports -benchtime 10x
func BenchmarkReports(b *testing.B) {
	ctx := context.Background()
	path := os.Getenv("KANTA_REPORTS_DB")
	if path == "" {
		held := 100000
		if v := os.Getenv("KANTA_REPORTS_HELD"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				b.Fatalf("KANTA_REPORTS_HELD=%q: want a positive number", v)
			}
			held = n
		}
		path = filepath.Join(b.TempDir(), "held.db")
		heldQueue(b, path, held)
	}
	q, err := queue.OpenSQLite(ctx, path, queue.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	for _, r := range []struct {
		name string
		run  func() error
	}{
		{"Stats", func() error { _, err := q.Stats(ctx); return err }},
		{"Held", func() error { _, err := q.Held(ctx); return err }},
		{"Replicas", func() error { _, err := q.Replicas(ctx); return err }},
		{"OperatorAudit", func() error {
			_, err := q.Audit(ctx, queue.AuditQuery{Operator: true, Limit: 20})
			return err
		}},
		{"Jobs100", func() error { _, err := q.Jobs(ctx, queue.JobFilter{Limit: 100}); return err }},
	} {
		b.Run(r.name, func(b *testing.B) {
			for range b.N {
				if err := r.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// heldQueue writes a queue database of n deliveries held until a go-live
// a month ahead, in batches of 1,000 entries.
func heldQueue(b *testing.B, path string, n int) {
	ctx := context.Background()
	q, err := queue.OpenSQLite(ctx, path, queue.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	goLive := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	payload := bytes.Repeat([]byte("x"), 16<<10)
	batch := make([]queue.Ingestion, 0, 1000)
	flush := func() {
		errs, err := q.IngestBatch(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		batch = batch[:0]
	}
	for i := range n {
		e := fmt.Sprintf("held-%d", i)
		rec := queuetest.Record(e, 1, documents.OutcomeHold)
		d := queuetest.Del(e, 1)
		rec.Archive, d.Archive = documents.ArchiveSocial, documents.ArchiveSocial
		rec.Register, d.Register = documents.RegisterSocialWelfareClient, documents.RegisterSocialWelfareClient
		d.Role, d.NotBefore, d.HeldUntilGoLive, d.Payload = documents.RoleSchoolWelfareOfficer, goLive, true, payload
		batch = append(batch, queue.Ingestion{Record: rec, Deliveries: []queue.Delivery{d}})
		if len(batch) == cap(batch) {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
}
