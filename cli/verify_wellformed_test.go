package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// verify refuses what the mock refuses as not well-formed (the mock's
// side: mockkanta TestRefusesFrameNotWellFormed): trailing content after
// the root, a second root, a DOCTYPE, a declared encoding other than
// UTF-8; for a bare CDA document and for an archive message alike.
func TestVerifyRefusesXMLNotWellFormed(t *testing.T) {
	p := testPKI(t)
	out := t.TempDir()
	if code, _, stderr := runCLI(t, "build", "--config", signingConfig(t, ""), "--now", "2026-11-22T12:00:00+02:00", "--out", out,
		"../fixtures/scenarios/psychologist.ndjson"); code != 0 {
		t.Fatalf("build exit %d: %s", code, stderr)
	}
	cdas, _ := filepath.Glob(filepath.Join(out, "*.cda.xml"))
	frames, _ := filepath.Glob(filepath.Join(out, "*.frame.xml"))
	if len(cdas) == 0 || len(frames) == 0 {
		t.Fatalf("build wrote %d documents and %d frames", len(cdas), len(frames))
	}
	edits := []struct {
		name string
		edit func([]byte) []byte
	}{
		{"trailing text after the root", func(b []byte) []byte { return append(b, "\ntrailing"...) }},
		{"a second root element", func(b []byte) []byte { return append(b, "<second/>"...) }},
		{"a DOCTYPE", func(b []byte) []byte { return bytes.Replace(b, []byte("?>"), []byte("?>\n<!DOCTYPE x>"), 1) }},
		{"a declared encoding other than UTF-8", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`encoding="UTF-8"`), []byte(`encoding="ISO-8859-1"`), 1)
		}},
	}
	dir := t.TempDir()
	for kind, src := range map[string]string{"CDA document": cdas[0], "archive message": frames[0]} {
		if code, stdout, _ := runCLI(t, "verify", "--trust", p.CACert, src); code != 0 {
			t.Fatalf("the unedited %s: exit %d\n%s", kind, code, stdout)
		}
		orig, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range edits {
			b := e.edit(bytes.Clone(orig))
			if bytes.Equal(b, orig) {
				t.Fatalf("%s, %s: the edit changed nothing", kind, e.name)
			}
			f := filepath.Join(dir, strings.ReplaceAll(kind, " ", "-")+string(rune('a'+i))+".xml")
			if err := os.WriteFile(f, b, 0o600); err != nil {
				t.Fatal(err)
			}
			code, stdout, _ := runCLI(t, "verify", "--trust", p.CACert, f)
			if code != ExitRejected || !strings.Contains(stdout, "not well-formed") {
				t.Errorf("%s with %s: exit %d, want %d naming it not well-formed\n%s", kind, e.name, code, ExitRejected, stdout)
			}
		}
	}
}
