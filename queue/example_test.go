package queue_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

func ExampleOpenSQLite() {
	dir, err := os.MkdirTemp("", "kanta-queue-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	kanta := queue.SubmitterFunc(func(ctx context.Context, d *queue.Delivery) queue.Result {
		fmt.Printf("sending %s version %d over %s (%d bytes)\n", d.DocumentID, d.Version, d.Route, len(d.Payload))
		return queue.Result{Class: queue.Accepted, Code: "AA"}
	})
	q, err := queue.OpenSQLite(ctx, filepath.Join(dir, "gateway.db"), queue.Options{
		Submitter:    kanta,
		PollInterval: 50 * time.Millisecond,
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	defer q.Close()

	// The ledger row and the delivery go in together, or not at all.
	rec := queue.LedgerRecord{
		EntryID: "apotti-123", Revision: 1, Outcome: documents.OutcomeSubmit,
		Role: documents.RolePsychologist, Archive: documents.ArchivePatient, Register: documents.RegisterHealthCarePatient,
		DocumentID: "1.2.246.10.2012566.10.1.42.1", SetID: "1.2.246.10.2012566.10.1.42.1", Version: 1,
	}
	err = q.Ingest(ctx, rec, []queue.Delivery{{
		DocumentID: rec.DocumentID, SetID: rec.SetID, Version: 1,
		Archive: rec.Archive, Role: rec.Role, Register: rec.Register,
		Route: queue.RouteCDA, Payload: []byte("<signed archive message/>"),
	}})
	if err != nil {
		panic(err)
	}
	err = q.Ingest(ctx, rec, nil)
	fmt.Println("read again:", err)

	if err := q.Start(ctx); err != nil {
		panic(err)
	}
	if err := q.WaitIdle(ctx); err != nil {
		panic(err)
	}
	jobs, err := q.Jobs(ctx, queue.JobFilter{EntryID: "apotti-123"})
	if err != nil {
		panic(err)
	}
	fmt.Println(jobs[0].State, jobs[0].DeliveryState, jobs[0].AckCode)
	// Output:
	// read again: entry revision already read
	// sending 1.2.246.10.2012566.10.1.42.1 version 1 over cda (25 bytes)
	// done delivered AA
}
