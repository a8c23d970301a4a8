//go:build !kanta_production

package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// developerBuild: this build has the demo and fixtures commands.
const developerBuild = true

func TestFixturesCommands(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "batch.ndjson")
	if code, _, stderr := runCLI(t, "fixtures", "gen", "--n", "300", "--seed", "7", "--out", out); code != 0 {
		t.Fatalf("gen exit %d: %s", code, stderr)
	}
	first, _ := os.ReadFile(out)
	runCLI(t, "fixtures", "gen", "--n", "300", "--seed", "7", "--out", out)
	second, _ := os.ReadFile(out)
	if !bytes.Equal(first, second) || bytes.Count(first, []byte("\n")) != 300 {
		t.Fatalf("gen not reproducible or wrong size (%d lines)", bytes.Count(first, []byte("\n")))
	}
	code, stdout, stderr := runCLI(t, "plan", "--now", "2026-11-22T12:00:00+02:00", out)
	if code != 0 || strings.Contains(stdout, `"decision":"reject"`) {
		t.Errorf("generated batch: exit %d, rejections in plan:\n%s", code, stderr)
	}
	pkiDir := filepath.Join(dir, "pki")
	if code, stdout, stderr := runCLI(t, "fixtures", "pki", "--out", pkiDir); code != 0 || !strings.Contains(stdout, "signing 1.2.246.10.2012566.19.1") {
		t.Fatalf("pki exit %d: %s%s", code, stdout, stderr)
	}
	info, err := os.Stat(filepath.Join(pkiDir, "client-key.pem"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("client key mode %v (%v), want 0600", info.Mode().Perm(), err)
	}
}
