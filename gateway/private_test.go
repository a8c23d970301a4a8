package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
)

// Quarantine and done files are 0600 in 0700 directories with the umask
// 0022 and directories made 0755 beforehand; the check at start tightens
// them (and a quarantine file left 0644) with a warning naming each path.
func TestSpoolDataAtRestIsPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	ctx := context.Background()
	dir := t.TempDir()
	cfg, b, q := ingestSetup(t, dir)
	cfg.Spool.Dir = filepath.Join(dir, "spool")
	cfg.Spool.DoneDir = filepath.Join(dir, "done")
	for _, d := range []string{cfg.Spool.Dir, cfg.Spool.QuarantineDir, cfg.Spool.DoneDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	leftOpen := filepath.Join(cfg.Spool.QuarantineDir, "old.rejected.ndjson")
	if err := os.WriteFile(leftOpen, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The exporter writes batches 0644.
	if err := os.WriteFile(filepath.Join(cfg.Spool.Dir, "batch.ndjson"), []byte(final("PRIV-1")+"\n{not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if err := CheckPrivateDirs(cfg, log); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{cfg.Spool.QuarantineDir, cfg.Spool.DoneDir, leftOpen} {
		if !strings.Contains(logs.String(), "path="+p+" ") {
			t.Errorf("no warning naming %s: %q", p, logs.String())
		}
	}
	// A directory loosened after the start is tightened again on write.
	if err := os.Chmod(cfg.Spool.DoneDir, 0o755); err != nil {
		t.Fatal(err)
	}
	in := NewIngester(cfg, b, q, clock.NewManual(testNow), slog.New(slog.DiscardHandler), Hooks{})
	pass, err := in.IngestSpool(ctx)
	if err != nil || len(pass.Batches) != 1 || pass.Batches[0].Rejected != 1 {
		t.Fatalf("ingest %+v (%v), want one batch with one rejection", pass, err)
	}
	quarantined, _ := filepath.Glob(filepath.Join(cfg.Spool.QuarantineDir, "batch.ndjson.*"))
	if len(quarantined) != 2 {
		t.Fatalf("quarantine files %v, want lines and reasons", quarantined)
	}
	paths := append(quarantined, leftOpen, filepath.Join(cfg.Spool.DoneDir, "batch.ndjson"))
	for _, p := range append(paths, cfg.Spool.QuarantineDir, cfg.Spool.DoneDir) {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if info.IsDir() {
			want = 0o700
		}
		if m := info.Mode().Perm(); m != want {
			t.Errorf("%s mode %#o, want %#o", p, m, want)
		}
	}
}
