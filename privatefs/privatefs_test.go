package privatefs

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

// With the common umask 0022 and a directory created 0755 beforehand,
// Dir tightens it to 0700 and warns naming it; Create makes 0600 files.
func TestTightensExistingDirectoryAndFile(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	root := t.TempDir()
	dir := filepath.Join(root, "quarantine")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	loose := filepath.Join(dir, "old.ndjson")
	if err := os.WriteFile(loose, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if err := Dir(dir, log); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("directory mode %#o, want 0700", m)
	}
	if err := File(loose, log); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, loose); m != 0o600 {
		t.Errorf("file mode %#o, want 0600", m)
	}
	for _, p := range []string{dir, loose} {
		if !strings.Contains(logs.String(), "path="+p+" ") {
			t.Errorf("no warning naming %s in %q", p, logs.String())
		}
	}
	fresh := filepath.Join(root, "a", "b", "new.db")
	if err := Dir(filepath.Dir(fresh), log); err != nil {
		t.Fatal(err)
	}
	if err := Create(fresh, log); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{filepath.Join(root, "a"): 0o700, filepath.Dir(fresh): 0o700, fresh: 0o600} {
		if m := mode(t, p); m != want {
			t.Errorf("%s mode %#o, want %#o", p, m, want)
		}
	}
	logs.Reset()
	if err := Dir(dir, log); err != nil {
		t.Fatal(err)
	}
	if logs.Len() != 0 {
		t.Errorf("warned about a private directory: %q", logs.String())
	}
	if err := File(filepath.Join(dir, "missing"), log); err != nil {
		t.Errorf("a missing file: %v", err)
	}
}
