package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/gen"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// recordingQueue notes, per batch line, what ingestion recorded: the
// ledger records it ingested and the audit records of its rejections and
// drafts.
type recordingQueue struct {
	queue.Queue
	mu       sync.Mutex
	ingested map[string]queue.LedgerRecord // "file:line"
	events   map[string]queue.LedgerRecord
}

func newRecordingQueue(q queue.Queue) *recordingQueue {
	return &recordingQueue{Queue: q, ingested: map[string]queue.LedgerRecord{}, events: map[string]queue.LedgerRecord{}}
}

func lineKey(file string, line int) string { return fmt.Sprintf("%s:%d", filepath.Base(file), line) }

func (r *recordingQueue) IngestBatch(ctx context.Context, items []queue.Ingestion) ([]error, error) {
	res, err := r.Queue.IngestBatch(ctx, items)
	if err == nil {
		r.mu.Lock()
		for i, it := range items {
			if res[i] == nil {
				r.ingested[lineKey(it.Record.File, it.Record.Line)] = it.Record
			}
		}
		r.mu.Unlock()
	}
	return res, err
}

func (r *recordingQueue) RecordEvent(ctx context.Context, rec queue.LedgerRecord) error {
	r.mu.Lock()
	r.events[lineKey(rec.File, rec.Line)] = rec
	r.mu.Unlock()
	return r.Queue.RecordEvent(ctx, rec)
}

func (r *recordingQueue) RecordEventWith(ctx context.Context, rec queue.LedgerRecord, also func() error) error {
	r.mu.Lock()
	r.events[lineKey(rec.File, rec.Line)] = rec
	r.mu.Unlock()
	return r.Queue.RecordEventWith(ctx, rec, also)
}

// quarantined reads every quarantine reason written into dir, by line.
func quarantined(t *testing.T, dir string) map[string]quarantineReason {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.reasons.jsonl"))
	out := map[string]quarantineReason{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			var r quarantineReason
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out[lineKey(r.File, r.Line)] = r
		}
	}
	return out
}

// planAndIngest runs the planner and the ingester over the same batches
// (in order, one fresh queue) and checks, line by line, that plan's
// decision is what ingestion recorded in the ledger, the audit trail and
// the quarantine. It returns the planned lines.
func planAndIngest(t *testing.T, cfg *config.Config, b *Builder, batches []string) []PlannedLine {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	qcfg := *cfg
	qcfg.Spool.QuarantineDir = filepath.Join(dir, "quarantine")
	q, err := queue.OpenSQLite(ctx, filepath.Join(dir, "gateway.db"), queue.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	rq := newRecordingQueue(q)
	in := NewIngester(&qcfg, b, rq, clock.NewManual(testNow), slog.New(slog.DiscardHandler), Hooks{})

	ub, err := NewUnsignedBuilder(&qcfg)
	if err != nil {
		t.Fatal(err)
	}
	planner := NewPlanner(&qcfg, ub, clock.NewManual(testNow))
	var planned []PlannedLine
	for _, batch := range batches {
		if err := planner.PlanFile(ctx, batch, func(l PlannedLine) error { planned = append(planned, l); return nil }); err != nil {
			t.Fatalf("plan %s: %v", batch, err)
		}
		if _, err := in.IngestFile(ctx, batch); err != nil {
			t.Fatalf("ingest %s: %v", batch, err)
		}
	}
	quar := quarantined(t, qcfg.Spool.QuarantineDir)

	seen := map[string]bool{}
	for _, l := range planned {
		k := lineKey(l.File, l.Line)
		if seen[k] {
			t.Errorf("%s planned twice", k)
		}
		seen[k] = true
		led, inLedger := rq.ingested[k]
		ev, inAudit := rq.events[k]
		qr, inQuarantine := quar[k]
		switch {
		case l.AlreadyRead:
			if inLedger || inAudit || inQuarantine {
				t.Errorf("%s: plan says already read, ingestion recorded ledger %v audit %v quarantine %v", k, inLedger, inAudit, inQuarantine)
			}
		case l.Decision.Outcome == documents.OutcomeReject:
			if l.Rejection == nil {
				t.Errorf("%s: plan rejects without a rejection", k)
				continue
			}
			if !inQuarantine || qr.Field != l.Rejection.Field || qr.Reason != l.Rejection.Reason {
				t.Errorf("%s: plan rejects (field %q, %q), quarantine has %v %+v", k, l.Rejection.Field, l.Rejection.Reason, inQuarantine, qr)
			}
			if inLedger {
				t.Errorf("%s: plan rejects, ingestion put it in the ledger as %s", k, led.Outcome)
			}
			if l.Rejection.EntryID != "" && (!inAudit || ev.Outcome != documents.OutcomeReject || ev.ReasonClass != l.Decision.ReasonClass) {
				t.Errorf("%s: plan rejects (%s), audit has %v %s %s", k, l.Decision.ReasonClass, inAudit, ev.Outcome, ev.ReasonClass)
			}
		default:
			rec, ok := led, inLedger
			if l.Decision.ReasonClass == documents.ReasonDraft {
				rec, ok = ev, inAudit && !inLedger
			}
			if !ok || inQuarantine || rec.Outcome != l.Decision.Outcome || rec.ReasonClass != l.Decision.ReasonClass || rec.Archive != l.Decision.Archive {
				t.Errorf("%s: plan says %s (%s), ingestion recorded %v %s (%s), quarantined %v", k, l.Decision.Outcome, l.Decision.ReasonClass, ok, rec.Outcome, rec.ReasonClass, inQuarantine)
			}
		}
	}
	// Nothing ingestion recorded is missing from the plan.
	for _, m := range []map[string]queue.LedgerRecord{rq.ingested, rq.events} {
		for k := range m {
			if !seen[k] {
				t.Errorf("%s recorded by ingestion, not planned", k)
			}
		}
	}
	for k := range quar {
		if !seen[k] {
			t.Errorf("%s quarantined by ingestion, not planned", k)
		}
	}
	return planned
}

// decisionsByLine counts the planned lines' decisions ("already_read" for
// a repeat).
func decisionsByLine(planned []PlannedLine) map[int]string {
	out := map[int]string{}
	for _, l := range planned {
		d := string(l.Decision.Outcome)
		if l.AlreadyRead {
			d = "already_read"
		}
		out[l.Line] = d
	}
	return out
}

// plan is the ingestion's own decide step: over the fixture batches, the
// malformed catalogue, a generated batch and the cases a separate copy of
// the decide step got wrong (a revision repeated in a batch and across the
// chunk boundary, an entered-in-error after its revision, an unknown
// organiser, a document that cannot be built), plan's decision on every
// line is what ingestion recorded.
func TestPlanIsIngestionsDecision(t *testing.T) {
	dir := t.TempDir()
	cfg, b, _ := ingestSetup(t, dir)

	t.Run("scenarios", func(t *testing.T) {
		planned := planAndIngest(t, cfg, b, []string{"../fixtures/scenarios/psychologist.ndjson", "../fixtures/scenarios/welfare-officer.ndjson"})
		if len(planned) < 30 {
			t.Errorf("%d planned lines", len(planned))
		}
	})
	t.Run("malformed catalogue", func(t *testing.T) {
		planned := planAndIngest(t, cfg, b, []string{"../fixtures/malformed/catalogue.ndjson"})
		if len(planned) < 50 {
			t.Errorf("%d planned lines", len(planned))
		}
	})
	t.Run("hostile catalogue", func(t *testing.T) {
		planned := planAndIngest(t, cfg, b, []string{"../fixtures/hostile/catalogue.ndjson"})
		if len(planned) < 80 {
			t.Errorf("%d planned lines", len(planned))
		}
	})
	t.Run("generated", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "generated.ndjson")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gen.Write(f, gen.Options{N: 200, Seed: 14, TextSize: 200}); err != nil {
			t.Fatal(err)
		}
		f.Close()
		// The same batch again: every revision is read already.
		again := filepath.Join(filepath.Dir(p), "generated-again.ndjson")
		raw, _ := os.ReadFile(p)
		os.WriteFile(again, raw, 0o600)
		planned := planAndIngest(t, cfg, b, []string{p, again})
		repeats := 0
		for _, l := range planned {
			if l.AlreadyRead && filepath.Base(l.File) == "generated-again.ndjson" {
				repeats++
			}
		}
		if repeats < 150 {
			t.Errorf("%d lines of the re-exported batch already read, want most of 200", repeats)
		}
	})
	t.Run("repeats, invalidation, unknown organiser", func(t *testing.T) {
		var lines []string
		lines = append(lines,
			final("R-1"), // 1
			final("R-1"), // 2: the same revision again
			fmt.Sprintf(psychologistLine, "R-1", 2, `"status": "final", "amends": {"revision": 1, "reason": "Tarkennus"}`),                   // 3
			fmt.Sprintf(psychologistLine, "R-1", 3, `"status": "entered-in-error", "amends": {"revision": 2, "reason": "Väärä asiakas"}`),    // 4: invalidates 1-2
			fmt.Sprintf(psychologistLine, "R-NONE", 1, `"status": "entered-in-error"`),                                                       // 5: nothing to invalidate
			strings.Replace(final("R-ORG"), `"organiser_oid": "1.2.246.10.2012566.19.1"`, `"organiser_oid": "1.2.246.10.2012566.19.999"`, 1), // 6
			strings.Replace(final("R-XML"), `"Tapaaminen."`, `"Tapaaminen \ufffe."`, 1),                                                      // 7: not an XML character
			fmt.Sprintf(psychologistLine, "R-DRAFT", 1, `"status": "draft"`),                                                                 // 8
		)
		for len(lines) < chunkSize-1 {
			lines = append(lines, final(fmt.Sprintf("FILL-%d", len(lines)+1)))
		}
		lines = append(lines,
			final("EDGE"), // 64: the chunk's last line
			final("EDGE"), // 65: repeated across the boundary
			fmt.Sprintf(psychologistLine, "EDGE", 2, `"status": "entered-in-error", "amends": {"revision": 1, "reason": "Väärä asiakas"}`), // 66
			final("R-1"), // 67: read in the chunk before
		)
		batch := writeBatch(t, t.TempDir(), "repeats.ndjson", lines)
		planned := planAndIngest(t, cfg, b, []string{batch})
		for _, l := range planned {
			if l.Rejection != nil {
				t.Logf("line %d: %s", l.Line, l.Rejection.Error())
			}
		}
		got := decisionsByLine(planned)
		want := map[int]string{1: "submit", 2: "already_read", 3: "submit", 4: "invalidate", 5: "skip", 6: "reject", 8: "skip",
			64: "submit", 65: "already_read", 66: "invalidate", 67: "already_read"}
		for line, d := range want {
			if got[line] != d {
				t.Errorf("line %d: plan %q, want %q", line, got[line], d)
			}
		}
		if got[7] != "reject" {
			t.Errorf("line 7 (U+FFFE in the narrative): plan %q, want reject (a document that cannot be built)", got[7])
		}
	})
}
