package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/gateway"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// once exits 0 only when every due document was acknowledged: a document
// left for a retry (an archive that answered something unreadable) is exit
// 4 with the earliest retry named, and a rejection or dead letter is 3
// whatever else waits.
func TestOnceExitStatus(t *testing.T) {
	cfg := config.Default()
	a := &app{cfg: &cfg}
	retryAt := time.Date(2026, 9, 1, 9, 30, 0, 0, time.UTC)
	waiting := queue.Stats{Depth: map[string]int{queue.StateDone: 4, queue.StateRetryable: 1}, Retrying: 1, NextRetry: retryAt}
	for _, tc := range []struct {
		name string
		res  gateway.OnceResult
		code int
		says string
	}{
		{"all acknowledged", gateway.OnceResult{Stats: queue.Stats{Depth: map[string]int{queue.StateDone: 5}}}, ExitOK, ""},
		{"one left for a retry", gateway.OnceResult{Stats: waiting}, ExitRetryLater, "1 documents not acknowledged yet"},
		{"rejected and one waiting", gateway.OnceResult{Rejected: 1, Stats: waiting}, ExitRejected, "1 entries rejected"},
		// gateway's TestOnceOverAHostileSpool: what a hostile spool counts.
		{"hostile spool", gateway.OnceResult{Batches: 2, Rejected: 1, Corrupt: 1, Refused: 1}, ExitRejected, "1 corrupt batches quarantined, 1 spool entries refused"},
	} {
		err := onceSummary{&tc.res}.exit(a)
		code := ExitOK
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		} else if err != nil {
			code = ExitFailure
		}
		if code != tc.code || (tc.says != "" && !strings.Contains(err.Error(), tc.says)) {
			t.Errorf("%s: exit %d (%v), want %d saying %q", tc.name, code, err, tc.code, tc.says)
		}
	}
	var out bytes.Buffer
	onceSummary{&gateway.OnceResult{Stats: waiting}}.print(a, &out)
	want := "earliest retry " + retryAt.In(cfg.Location()).Format(time.RFC3339)
	if !strings.Contains(out.String(), want) || strings.Contains(out.String(), "held release") {
		t.Errorf("summary %q: want %q and no held release", out.String(), want)
	}
	out.Reset()
	onceSummary{&gateway.OnceResult{Batches: 2, Lines: 1, Rejected: 1, Corrupt: 1, Refused: 1}}.print(a, &out)
	for _, want := range []string{"once: 2 batches", "1 rejected", "1 corrupt batches quarantined, 1 entries refused"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary %q lacks %q", out.String(), want)
		}
	}
}

// once on a queue store that cannot be opened (a regular file stands where
// the SQLite file's directory should be) exits with the failure status
// (1), not the configuration error status (2): a scheduler runs it again.
// (gateway's TestStoreUnavailableAtStart: Once's RunFailure.)
func TestOnceOnAnUnavailableStore(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "data")
	if err := os.WriteFile(blocker, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := signingConfig(t, fmt.Sprintf("spool:\n  dir: %s\n  done_dir: %s\n  quarantine_dir: %s\nqueue:\n  sqlite_path: %s\nmetrics:\n  listen: ''\n",
		filepath.Join(dir, "spool"), filepath.Join(dir, "done"), filepath.Join(dir, "quarantine"), filepath.Join(blocker, "queue", "gateway.db")))
	if code, stdout, stderr := runCLI(t, "once", "--config", cfg, "--timeout", "1s"); code != ExitFailure || !strings.Contains(stderr, "queue") {
		t.Errorf("once on an unavailable store: exit %d, want %d naming the queue\n%s\n%s", code, ExitFailure, stdout, stderr)
	}
}
