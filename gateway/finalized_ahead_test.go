package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// TestIngestRejectsFinalizedAtAheadOfClock: ingestion reads at its clock,
// so a finalized_at beyond spool.max_finalized_ahead is quarantined with
// file, line and field, and the rest of the batch goes through.
func TestIngestRejectsFinalizedAtAheadOfClock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, b, q := ingestSetup(t, dir)
	cfg.Spool.MaxFinalizedAhead = time.Hour
	in := NewIngester(cfg, b, q, clock.NewManual(testNow), slog.New(slog.DiscardHandler), Hooks{})

	at := func(id, ts string) string {
		return strings.Replace(final(id), `"2026-08-20T10:15:00+03:00"`, `"`+ts+`"`, 1)
	}
	lines := []string{
		final("PAST"),
		at("YEARS-AHEAD", "2036-11-22T12:00:00Z"),
		at("WITHIN", testNow.Add(59*time.Minute).Format(time.RFC3339)),
		at("HOURS-AHEAD", testNow.Add(2*time.Hour).Format(time.RFC3339)),
	}
	batch := filepath.Join(dir, "ahead.ndjson")
	if err := os.WriteFile(batch, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum, err := in.IngestFile(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	// WITHIN passes the adapter; the policy holds it until its time.
	if sum.Rejected != 2 || sum.ByOutcome[documents.OutcomeSubmit] != 1 || sum.ByOutcome[documents.OutcomeHold] != 1 {
		t.Fatalf("rejected %d, outcomes %v; want 2 rejected, 1 submitted, 1 held", sum.Rejected, sum.ByOutcome)
	}
	reasons, err := filepath.Glob(filepath.Join(cfg.Spool.QuarantineDir, "ahead.ndjson.*.reasons.jsonl"))
	if err != nil || len(reasons) != 1 {
		t.Fatalf("quarantine reasons files %v (%v)", reasons, err)
	}
	raw, err := os.ReadFile(reasons[0])
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var r struct {
			File   string `json:"file"`
			Line   int    `json:"line"`
			Field  string `json:"field"`
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if r.Field != "finalized_at" || !strings.Contains(r.Reason, "1h0m0s after the time of reading") || !strings.Contains(r.File, "ahead.ndjson") {
			t.Errorf("quarantine reason %s", l)
		}
		got = append(got, r.Line)
	}
	if len(got) != 2 || got[0] != 2 || got[1] != 4 {
		t.Errorf("quarantined lines %v, want [2 4]", got)
	}
}
