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
	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/pki"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// psychologistLine is a final psychologist entry; %s is its entry id, %d
// its revision, and the last %s the status with its amends field.
const psychologistLine = `{"entry_id": "%s", "revision": %d, %s, "finalized_at": "2026-08-20T10:15:00+03:00", "author": {"role": "psychologist", "registration_number": "100000001", "given": "Pirjo", "family": "Psykologi"}, "client": {"hetu": "150315A914E", "given": "Testi", "family": "Oppilas", "birth_date": "2015-03-15", "home_municipality": "091"}, "service": {"kind": "school_psychology", "unit_oid": "1.2.246.10.2012566.10.1001", "unit_name": "Kallion koulun oppilashuolto", "organiser_oid": "1.2.246.10.2012566.19.1"}, "encounter": {"id": "ENC-1", "type": "visit", "start": "2026-08-20T09:00:00+03:00", "end": "2026-08-20T09:45:00+03:00"}, "text": {"title": "Psykologin käynti", "narrative": "Tapaaminen.", "language": "fi"}}`

var testNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// ingestSetup gives a builder with a fresh test PKI and an SQLite queue.
func ingestSetup(t *testing.T, dir string) (*config.Config, *Builder, queue.Queue) {
	t.Helper()
	cfg := config.Default()
	paths, err := pki.Generate(filepath.Join(dir, "pki"), []pki.Organiser{{OID: cfg.Organisations[0].OID, Name: cfg.Organisations[0].Name}}, "pw", testNow)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Organisations[0].PKCS12 = paths.Signing[cfg.Organisations[0].OID].P12
	cfg.Organisations[0].PKCS12Password = "pw"
	cfg.Spool.QuarantineDir = filepath.Join(dir, "quarantine")
	b, err := NewBuilder(&cfg, testNow)
	if err != nil {
		t.Fatal(err)
	}
	q, err := queue.OpenSQLite(context.Background(), filepath.Join(dir, "gateway.db"), queue.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return &cfg, b, q
}

func final(id string) string { return fmt.Sprintf(psychologistLine, id, 1, `"status": "final"`) }

// The next chunk is decided and signed while the one before it is still
// being committed. Its decisions must still see that chunk: an
// entered-in-error revision right after the chunk boundary invalidates the
// revision just before it, and a revision repeated across the boundary is
// read once.
func TestIngestAcrossChunkBoundary(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, b, q := ingestSetup(t, dir)
	// The first chunk's commit waits until the second chunk is built: the
	// pipeline's worst case, made certain.
	var built atomic.Int32 // the hook runs on the build workers
	secondBuilt := make(chan struct{})
	gq := &gatedQueue{Queue: q, gate: secondBuilt, t: t}
	in := NewIngester(cfg, b, gq, clock.NewManual(testNow), slog.New(slog.DiscardHandler), Hooks{
		Built: func(documents.Archive, string, time.Duration) {
			// chunkSize documents in the first chunk, the invalidation and
			// AFTER in the second; the duplicate is not built.
			if built.Add(1) == chunkSize+2 {
				close(secondBuilt)
			}
		},
	})

	var lines []string
	for i := 1; i < chunkSize; i++ {
		lines = append(lines, final(fmt.Sprintf("FILL-%02d", i)))
	}
	lines = append(lines,
		final("EDGE"), // the last line of the first chunk
		fmt.Sprintf(psychologistLine, "EDGE", 2, `"status": "entered-in-error", "amends": {"revision": 1, "reason": "Väärä asiakas"}`),
		final("EDGE"),   // the same revision again, one chunk later
		`{"entry_id": `, // not JSON
		final("AFTER"),
	)
	batch := filepath.Join(dir, "batch.ndjson")
	if err := os.WriteFile(batch, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	sum, err := in.IngestFile(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Lines != chunkSize+4 {
		t.Errorf("lines %d, want %d", sum.Lines, chunkSize+4)
	}
	if sum.ByOutcome[documents.OutcomeSubmit] != chunkSize+1 || sum.ByOutcome[documents.OutcomeInvalidate] != 1 {
		t.Errorf("outcomes %v, want %d submitted and 1 invalidated", sum.ByOutcome, chunkSize+1)
	}
	if sum.AlreadyRead != 1 || sum.Rejected != 1 {
		t.Errorf("already read %d, rejected %d; want 1 and 1", sum.AlreadyRead, sum.Rejected)
	}
	for _, rev := range []int{1, 2} {
		if seen, err := q.Seen(ctx, "EDGE", rev); err != nil || !seen {
			t.Errorf("EDGE revision %d not in the ledger (%v)", rev, err)
		}
	}
	if r, ok := q.LatestAccepted("EDGE"); !ok || r != 2 {
		t.Errorf("latest accepted revision of EDGE %d %v, want 2", r, ok)
	}
	jobs, err := q.Jobs(ctx, queue.JobFilter{EntryID: "EDGE"})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 {
		t.Errorf("%d jobs for EDGE, want 2 (the revision and its invalidation)", len(jobs))
	}
	reasons, err := filepath.Glob(filepath.Join(cfg.Spool.QuarantineDir, "batch.ndjson.*.reasons.jsonl"))
	if err != nil || len(reasons) != 1 {
		t.Fatalf("quarantine reasons files %v (%v)", reasons, err)
	}
	raw, err := os.ReadFile(reasons[0])
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(raw), "\n"); n != 1 || !strings.Contains(string(raw), fmt.Sprintf(`"line":%d`, chunkSize+3)) {
		t.Errorf("quarantine reasons %q, want line %d only", raw, chunkSize+3)
	}
}

// A failed commit stops the batch: nothing after the failed chunk is
// committed, and the error is the commit's.
func TestIngestStopsAtFailedCommit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, b, q := ingestSetup(t, dir)
	fq := &failingQueue{Queue: q, failAt: 2}
	in := NewIngester(cfg, b, fq, clock.NewManual(testNow), slog.New(slog.DiscardHandler), Hooks{})

	var lines []string
	for i := 0; i < 4*chunkSize; i++ {
		lines = append(lines, final(fmt.Sprintf("E-%03d", i)))
	}
	batch := filepath.Join(dir, "batch.ndjson")
	if err := os.WriteFile(batch, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := in.IngestFile(ctx, batch)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("error %v, want the commit's", err)
	}
	for i := 0; i < 4*chunkSize; i++ {
		seen, err := q.Seen(ctx, fmt.Sprintf("E-%03d", i), 1)
		if err != nil {
			t.Fatal(err)
		}
		if want := i < chunkSize; seen != want {
			t.Fatalf("entry %d read %v, want %v (only the chunk before the failed one)", i, seen, want)
		}
	}
}

// gatedQueue holds its first IngestBatch until gate closes.
type gatedQueue struct {
	queue.Queue
	gate  <-chan struct{}
	calls int
	t     *testing.T
}

func (g *gatedQueue) IngestBatch(ctx context.Context, items []queue.Ingestion) ([]error, error) {
	if g.calls++; g.calls == 1 {
		select {
		case <-g.gate:
		case <-time.After(20 * time.Second):
			g.t.Error("the second chunk was not built while the first was being committed")
		}
	}
	return g.Queue.IngestBatch(ctx, items)
}

// failingQueue fails its failAt-th IngestBatch.
type failingQueue struct {
	queue.Queue
	failAt, calls int
}

func (f *failingQueue) IngestBatch(ctx context.Context, items []queue.Ingestion) ([]error, error) {
	if f.calls++; f.calls == f.failAt {
		return nil, fmt.Errorf("disk full")
	}
	return f.Queue.IngestBatch(ctx, items)
}

// historyFailingQueue is a store whose history lookup fails: the
// error-returning lookup returns it, and the error-less one answers
// "nothing accepted", as the ledger's did on a failed query.
type historyFailingQueue struct {
	queue.Queue
}

func (historyFailingQueue) LatestAccepted(string) (int, bool) { return 0, false }

func (historyFailingQueue) AcceptedRevisions(context.Context, []string) (map[string]int, error) {
	return nil, fmt.Errorf("database is locked")
}

// A failed history lookup is never a decision: the entered-in-error line is
// neither skipped nor recorded, the batch fails, and the next pass (the
// lookup working again) invalidates the revision.
func TestIngestFailsChunkWhenHistoryLookupFails(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, b, q := ingestSetup(t, dir)
	first := filepath.Join(dir, "first.ndjson")
	if err := os.WriteFile(first, []byte(final("INV")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := NewIngester(cfg, b, q, clock.NewManual(testNow), slog.New(slog.DiscardHandler), Hooks{})
	if _, err := in.IngestFile(ctx, first); err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(dir, "second.ndjson")
	line := fmt.Sprintf(psychologistLine, "INV", 2, `"status": "entered-in-error", "amends": {"revision": 1, "reason": "Väärä asiakas"}`)
	if err := os.WriteFile(second, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	failing := NewIngester(cfg, b, historyFailingQueue{q}, clock.NewManual(testNow), slog.New(slog.DiscardHandler), Hooks{})
	sum, err := failing.IngestFile(ctx, second)
	if err == nil || !strings.Contains(err.Error(), "database is locked") {
		t.Fatalf("error %v, want the lookup's (summary %+v)", err, sum)
	}
	if seen, err := q.Seen(ctx, "INV", 2); err != nil || seen {
		t.Fatalf("revision 2 recorded as read after a failed lookup (%v)", err)
	}
	events, err := q.Audit(ctx, queue.AuditQuery{EntryID: "INV"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Revision == 2 {
			t.Fatalf("audit row %+v for revision 2 after a failed lookup", e)
		}
	}

	sum, err = in.IngestFile(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	if sum.ByOutcome[documents.OutcomeInvalidate] != 1 {
		t.Fatalf("retry outcomes %v, want 1 invalidated", sum.ByOutcome)
	}
	if r, ok := q.LatestAccepted("INV"); !ok || r != 2 {
		t.Fatalf("latest accepted %d %v, want 2", r, ok)
	}
}
