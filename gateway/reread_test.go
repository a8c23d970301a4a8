package gateway

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"

	_ "modernc.org/sqlite" // reading the audit table directly
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

// crashingQueue fails its first IngestBatch, as a gateway killed between
// a chunk's rejections (committed) and its ledger transaction would leave
// things: the claim stays in processing/ and is read again.
type crashingQueue struct {
	queue.Queue
	crashed bool
}

func (c *crashingQueue) IngestBatch(ctx context.Context, items []queue.Ingestion) ([]error, error) {
	if !c.crashed {
		c.crashed = true
		return nil, errors.New("killed")
	}
	return c.Queue.IngestBatch(ctx, items)
}

// auditRowsAt counts the audit rows recorded for a batch line, whatever
// their entry id (a line that is not JSON has none).
func auditRowsAt(t *testing.T, dbPath, name string, line int) int {
	t.Helper()
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM audit WHERE event = ? AND (source = ? OR source LIKE ?)`,
		queue.EventRejected, fmt.Sprintf("%s:%d", name, line), fmt.Sprintf("%s:%d#%%", name, line)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A line that is not valid JSON has no entry id. Its batch, claimed and
// cut off by a crash after the line's rejection was committed, is read
// again from processing/: the rejection is neither audited nor quarantined
// a second time. A new batch under the same name with the same bad line is
// a new batch, and its line is quarantined.
func TestRereadAfterCrashDoesNotRequarantineAnIDlessLine(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, b, q := ingestSetup(t, dir)
	cfg.Spool.Dir = filepath.Join(dir, "spool")
	cfg.Spool.DoneDir = filepath.Join(dir, "spool", "done")
	if err := os.MkdirAll(cfg.Spool.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	crashing := &crashingQueue{Queue: q}
	in := NewIngester(cfg, b, crashing, clock.NewManual(testNow), slog.New(slog.DiscardHandler), Hooks{})
	notJSON := `{"entry_id": "BROKEN", "revision": 1, "status": "final",` // cut off: a syntax error
	body := []byte(notJSON + "\n" + final("AFTER-BROKEN") + "\n")
	batch := filepath.Join(cfg.Spool.Dir, "daily.ndjson")
	writeAtomically(t, batch, body)

	if _, err := in.IngestSpool(ctx); err == nil {
		t.Fatal("the crashed pass reported no error")
	}
	if got := dirNames(t, filepath.Join(cfg.Spool.Dir, ProcessingDirName)); len(got) != 1 {
		t.Fatalf("processing/ holds %v, want the claim left by the crash", got)
	}
	if n := len(quarantineLines(t, cfg.Spool.QuarantineDir)); n != 1 {
		t.Fatalf("%d quarantine entries after the crash, want 1 (the rejection was committed before it)", n)
	}
	for range 2 { // the restart's pass, then one that finds nothing
		if _, err := in.IngestSpool(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mustSeen(t, q, "AFTER-BROKEN")
	if got := dirNames(t, cfg.Spool.DoneDir); len(got) != 1 {
		t.Fatalf("done/ holds %v, want the batch", got)
	}
	if got := quarantineLines(t, cfg.Spool.QuarantineDir); len(got) != 1 || got[0].Line != 1 || got[0].EntryID != "" {
		t.Errorf("quarantine after the re-read = %+v, want the one entry of line 1", got)
	}
	if n := auditRowsAt(t, filepath.Join(dir, "gateway.db"), "daily.ndjson", 1); n != 1 {
		t.Errorf("%d audit rows for line 1 after the re-read, want 1", n)
	}

	// The exporter reuses the name the next day; its line 1 is broken the
	// same way. Another batch: quarantined and audited again.
	writeAtomically(t, batch, body)
	if _, err := in.IngestSpool(ctx); err != nil {
		t.Fatal(err)
	}
	if got := quarantineLines(t, cfg.Spool.QuarantineDir); len(got) != 2 {
		t.Errorf("quarantine after a new batch of the same name = %+v, want 2 entries", got)
	}
	if n := auditRowsAt(t, filepath.Join(dir, "gateway.db"), "daily.ndjson", 1); n != 2 {
		t.Errorf("%d audit rows for line 1 after a new batch of the same name, want 2", n)
	}
}

// quarantineLines reads every quarantine reason in dir, in file order.
func quarantineLines(t *testing.T, dir string) []quarantineReason {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.reasons.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []quarantineReason
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			if l == "" {
				continue
			}
			var r quarantineReason
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, r)
		}
	}
	return out
}
