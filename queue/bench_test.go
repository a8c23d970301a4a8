package queue_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
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
