package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// `once` over a hostile spool: a FIFO named like a batch (an open of it
// would wait for a writer for ever), a corrupt gzip batch and a batch with
// a bad line. It must not hang, must refuse the FIFO, quarantine the
// corrupt batch once, print its summary and exit 3 (input refused).
func TestOnceOverAHostileSpool(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	if err := os.MkdirAll(spool, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(spool, "pipe.ndjson"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(spool, "broken.ndjson.gz"), []byte("\x1f\x8bnot gzip"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(spool, "bad.ndjson"), []byte(`{"entry_id": `+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	quarantine := filepath.Join(dir, "quarantine")
	cfg := signingConfig(t, fmt.Sprintf("spool:\n  dir: %s\n  done_dir: %s\n  quarantine_dir: %s\nqueue:\n  sqlite_path: %s\nmetrics:\n  listen: ''\n",
		spool, filepath.Join(dir, "done"), quarantine, filepath.Join(dir, "gateway.db")))

	type result struct {
		code           int
		stdout, stderr string
	}
	res := make(chan result, 1)
	go func() {
		code, out, errOut := runCLI(t, "once", "--config", cfg, "--timeout", "20s")
		res <- result{code, out, errOut}
	}()
	var r result
	select {
	case r = <-res:
	case <-time.After(60 * time.Second):
		t.Fatal("once hangs over a spool with a FIFO")
	}
	if r.code != ExitRejected {
		t.Errorf("exit %d, want %d\n%s\n%s", r.code, ExitRejected, r.stdout, r.stderr)
	}
	for _, want := range []string{"once: 2 batches", "1 rejected", "1 corrupt batches quarantined, 1 entries refused"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary %q lacks %q", r.stdout, want)
		}
	}
	if !strings.Contains(r.stderr, "pipe.ndjson") || !strings.Contains(r.stderr, "FIFO") {
		t.Errorf("the FIFO is not reported by name: %s", r.stderr)
	}
	if moved, _ := filepath.Glob(filepath.Join(quarantine, "broken.ndjson.gz.*.corrupt")); len(moved) != 1 {
		t.Errorf("corrupt batch not quarantined: %v", moved)
	}
}
