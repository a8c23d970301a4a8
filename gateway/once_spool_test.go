package gateway

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/pki"
)

// Once over a hostile spool: a FIFO named like a batch (an open of it
// would wait for a writer for ever), a corrupt gzip batch and a batch with
// a bad line. It must not hang, must refuse the FIFO by name, quarantine
// the corrupt batch once and count all three in its result (cli's
// TestOnceExitStatus: such a result is exit 3 and its summary names them).
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
	cfg := config.Default()
	o := &cfg.Organisations[0]
	paths, err := pki.Generate(filepath.Join(dir, "pki"), []pki.Organiser{{OID: o.OID, Name: o.Name}}, "pw", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	o.PKCS12, o.PKCS12Password = paths.Signing[o.OID].P12, "pw"
	cfg.Spool.Dir, cfg.Spool.DoneDir, cfg.Spool.QuarantineDir = spool, filepath.Join(dir, "done"), quarantine
	cfg.Queue.SQLitePath = filepath.Join(dir, "gateway.db")
	cfg.Metrics.Listen = ""
	logs := &syncBuffer{}

	type result struct {
		res *OnceResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := Once(context.Background(), &cfg, clock.System{}, slog.New(slog.NewJSONHandler(logs, nil)), OnceOptions{Timeout: 20 * time.Second})
		done <- result{res, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("once hangs over a spool with a FIFO")
	}
	if r.err != nil {
		t.Fatalf("once: %v\n%s", r.err, logs.String())
	}
	if got := *r.res; got.Batches != 2 || got.Rejected != 1 || got.Corrupt != 1 || got.Refused != 1 || got.Deliveries != 0 {
		t.Errorf("result %+v: want 2 batches, 1 rejected, 1 corrupt, 1 refused, nothing queued", got)
	}
	if !strings.Contains(logs.String(), "pipe.ndjson") || !strings.Contains(logs.String(), "FIFO") {
		t.Errorf("the FIFO is not reported by name: %s", logs.String())
	}
	if moved, _ := filepath.Glob(filepath.Join(quarantine, "broken.ndjson.gz.*.corrupt")); len(moved) != 1 {
		t.Errorf("corrupt batch not quarantined: %v", moved)
	}
}
