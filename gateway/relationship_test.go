package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// welfareLine is a final school welfare officer entry: entry id, client
// relationship id, and the relationship's "closed" value (null or a date).
const welfareLine = `{"entry_id": "%s", "revision": 1, "status": "final", "finalized_at": "2026-05-12T14:00:00+03:00", "author": {"role": "school_welfare_officer", "registration_number": "200000002", "given": "Kaisa", "family": "Kuraattori"}, "client": {"hetu": "010114A919P", "given": "Testi", "family": "Oppilas", "birth_date": "2014-01-01", "home_municipality": "091"}, "service": {"kind": "school_social_work", "unit_oid": "1.2.246.10.2012566.10.2001", "unit_name": "Vallilan koulun kuraattoripalvelut", "organiser_oid": "1.2.246.10.2012566.19.1"}, "encounter": {"id": "ENC-%[1]s", "type": "visit", "start": "2026-05-12T13:00:00+03:00"}, "client_relationship": {"id": "%s", "opened": "2025-08-15", "closed": %s}, "text": {"title": "Kuraattorin tapaaminen", "narrative": "Keskustelu koulunkäynnistä.", "language": "fi"}}`

func welfare(id, rel, closed string) string { return fmt.Sprintf(welfareLine, id, rel, closed) }

func writeBatch(t *testing.T, dir, name string, lines []string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// jobsByDocument lists every job by its document id.
func jobsByDocument(t *testing.T, q queue.Queue) map[string][]queue.JobInfo {
	t.Helper()
	jobs, err := q.Jobs(context.Background(), queue.JobFilter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]queue.JobInfo{}
	for _, j := range jobs {
		out[j.Delivery.DocumentID] = append(out[j.Delivery.DocumentID], j)
	}
	return out
}

// Every welfare officer entry of a client relationship is queued with its
// relationship's document before it, once per relationship (not per
// entry), in the same ingestion transaction; the entry names the
// relationship's set as its prerequisite. A closed relationship adds
// version 2; a relationship closed before go-live is skipped with its
// entries. A re-export queues nothing new, nor does a later batch of the
// same relationship.
func TestIngestQueuesRelationshipDocumentsOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, b, q := ingestSetup(t, dir)
	// The first chunk commits only after the second is built: the second
	// must not build the relationship document the first queues.
	release := make(chan struct{})
	var builtCDA atomic.Int32 // the hook runs on the build workers
	gq := &gatedQueue{Queue: q, gate: release, t: t}
	in := NewIngester(cfg, b, gq, clock.NewManual(testNow), slog.New(slog.DiscardHandler), Hooks{
		Built: func(archive documents.Archive, route string, _ time.Duration) {
			if builtCDA.Add(1) == chunkSize+2+3 {
				close(release)
			}
		},
	})
	var lines []string
	for i := 0; i < chunkSize+2; i++ {
		lines = append(lines, welfare(fmt.Sprintf("W-%03d", i), "ASK-OPEN", "null"))
	}
	lines = append(lines,
		welfare("W-CLOSED", "ASK-CLOSED", `"2026-10-31"`),   // closed after go-live: v1 and v2
		welfare("W-EARLY", "ASK-EARLY", `"2026-06-30"`),     // closed before go-live: skipped
		welfare("W-CLOSED-2", "ASK-CLOSED", `"2026-10-31"`)) // the same relationship again
	batch := writeBatch(t, dir, "batch.ndjson", lines)
	sum, err := in.IngestFile(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if sum.ByOutcome[documents.OutcomeSubmit] != chunkSize+4 || sum.ByOutcome[documents.OutcomeSkip] != 1 {
		t.Fatalf("outcomes %v", sum.ByOutcome)
	}
	// Built: every entry, and three relationship documents (ASK-OPEN v1,
	// ASK-CLOSED v1 and v2); nothing for ASK-EARLY.
	if n := builtCDA.Load(); n != chunkSize+4+3 {
		t.Errorf("%d CDA documents built, want %d", n, chunkSize+4+3)
	}
	root := cfg.Organisations[0].DocumentRoot
	jobs := jobsByDocument(t, q)
	rel := func(id string, v int) string { return documents.RelationshipDocumentID(root, id, v) }
	for _, id := range []string{rel("ASK-OPEN", 1), rel("ASK-CLOSED", 1), rel("ASK-CLOSED", 2)} {
		if len(jobs[id]) != 1 {
			t.Fatalf("relationship document %s queued %d times", id, len(jobs[id]))
		}
		j := jobs[id][0]
		if j.Delivery.After != "" || !j.Delivery.Shared || j.Delivery.Interaction != hl7.InteractionSocial || j.Delivery.Route != queue.RouteCDA {
			t.Errorf("relationship job %+v", j.Delivery)
		}
	}
	if jobs[rel("ASK-EARLY", 1)] != nil {
		t.Error("a relationship closed before go-live got a document")
	}
	if v2 := jobs[rel("ASK-CLOSED", 2)][0].Delivery; v2.SetID != rel("ASK-CLOSED", 1) || v2.Version != 2 {
		t.Errorf("version 2 = %+v", v2)
	}
	// Each entry waits for its relationship, and its relationship's
	// document was queued before it (same transaction, lower job id).
	check := func(entryID, relID string) {
		t.Helper()
		j := jobsByDocument(t, q)[documents.DocumentID(root, entryID, 1)]
		if len(j) != 1 {
			t.Fatalf("entry %s has %d jobs", entryID, len(j))
		}
		d := j[0].Delivery
		if d.After != documents.RelationshipSetID(root, relID) || d.AfterWhat != "client relationship document" {
			t.Errorf("entry %s After = %q (%q)", entryID, d.After, d.AfterWhat)
		}
		if r := jobs[rel(relID, 1)][0]; r.ID > j[0].ID && r.Delivery.EntryID == entryID {
			t.Errorf("relationship document queued after its entry %s", entryID)
		}
	}
	check("W-000", "ASK-OPEN")
	check(fmt.Sprintf("W-%03d", chunkSize+1), "ASK-OPEN")
	check("W-CLOSED", "ASK-CLOSED")
	check("W-CLOSED-2", "ASK-CLOSED")
	if r := jobs[rel("ASK-OPEN", 1)][0]; r.Delivery.EntryID != "W-000" {
		t.Errorf("ASK-OPEN's document queued with %s, want the first entry", r.Delivery.EntryID)
	}
	before := len(jobs)

	// A re-export: nothing new.
	in2 := NewIngester(cfg, b, q, clock.NewManual(testNow), slog.New(slog.DiscardHandler), Hooks{})
	if sum, err := in2.IngestFile(ctx, batch); err != nil || sum.AlreadyRead != chunkSize+5 || sum.Deliveries != 0 {
		t.Fatalf("re-export: %+v, %v", sum, err)
	}
	// A later entry of a relationship whose document is queued: only the entry.
	later := writeBatch(t, dir, "later.ndjson", []string{welfare("W-LATER", "ASK-OPEN", "null")})
	var built atomic.Int32
	in3 := NewIngester(cfg, b, q, clock.NewManual(testNow), slog.New(slog.DiscardHandler), Hooks{
		Built: func(documents.Archive, string, time.Duration) { built.Add(1) },
	})
	if sum, err := in3.IngestFile(ctx, later); err != nil || sum.Deliveries != 1 || built.Load() != 1 {
		t.Fatalf("later entry: %+v, built %d, %v", sum, built.Load(), err)
	}
	jobs = jobsByDocument(t, q)
	if len(jobs) != before+1 {
		t.Fatalf("%d jobs after the later entry, want %d", len(jobs), before+1)
	}
	check("W-LATER", "ASK-OPEN")
}

// Before go-live the relationship document is held until the same go-live
// as its entries.
func TestRelationshipDocumentHeldWithItsEntries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, b, _ := ingestSetup(t, dir)
	now := clock.NewManual(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	q, err := queue.OpenSQLite(ctx, filepath.Join(dir, "held.db"), queue.Options{Clock: now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	in := NewIngester(cfg, b, q, now, slog.New(slog.DiscardHandler), Hooks{})
	batch := writeBatch(t, dir, "held.ndjson", []string{welfare("H-1", "ASK-H", "null")})
	if _, err := in.IngestFile(ctx, batch); err != nil {
		t.Fatal(err)
	}
	root := cfg.Organisations[0].DocumentRoot
	jobs := jobsByDocument(t, q)
	relJob, entryJob := jobs[documents.RelationshipDocumentID(root, "ASK-H", 1)], jobs[documents.DocumentID(root, "H-1", 1)]
	if len(relJob) != 1 || len(entryJob) != 1 {
		t.Fatalf("jobs %v", jobs)
	}
	r, e := relJob[0], entryJob[0]
	goLive := cfg.Policy.Roles[documents.RoleSchoolWelfareOfficer].GoLive.Start(cfg.Location())
	if r.State != queue.StateScheduled || !r.Delivery.HeldUntilGoLive || !r.Delivery.NotBefore.Equal(goLive) ||
		!e.Delivery.NotBefore.Equal(goLive) || !e.Delivery.HeldUntilGoLive {
		t.Fatalf("relationship %+v / entry %+v, want both held until %s", r, e, goLive)
	}
}
