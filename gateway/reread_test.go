package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// A batch read again after a crash (it never reached done/) does not
// repeat the audit rows of its drafts and rejections, nor the rejections'
// quarantine entries: one row and one entry per batch line, however often
// the batch is read.
func TestRereadBatchDoesNotRepeatAuditOrQuarantine(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, b, q := ingestSetup(t, dir)
	in := NewIngester(cfg, b, q, clock.NewManual(testNow), slog.New(slog.DiscardHandler), Hooks{})
	lines := []string{
		fmt.Sprintf(psychologistLine, "DRAFT", 1, `"status": "draft"`),
		// A wrong check character: rejected, with its entry id.
		strings.Replace(final("BADHETU"), "150315A914E", "150315A914F", 1),
		final("GOOD"),
	}
	batch := filepath.Join(dir, "batch.ndjson")
	if err := os.WriteFile(batch, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		sum, err := in.IngestFile(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Rejected != 1 {
			t.Fatalf("rejected %d, want 1 (the bad identity code)", sum.Rejected)
		}
	}
	for entry, event := range map[string]string{"DRAFT": queue.EventSkipped, "BADHETU": queue.EventRejected} {
		ev, err := q.Audit(ctx, queue.AuditQuery{EntryID: entry})
		if err != nil {
			t.Fatal(err)
		}
		if len(ev) != 1 || ev[0].Event != event {
			t.Errorf("%s: audit after reading the batch 3 times = %+v, want one %s row", entry, ev, event)
		}
	}
	reasons, err := filepath.Glob(filepath.Join(cfg.Spool.QuarantineDir, "batch.ndjson.*.reasons.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	entries := 0
	for _, f := range reasons {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		entries += strings.Count(string(raw), "\n")
	}
	if entries != 1 {
		t.Errorf("%d quarantine entries after reading the batch 3 times, want 1", entries)
	}
}
