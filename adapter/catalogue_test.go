package adapter_test

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/adapter"
)

type expectation struct{ field, reason string }

// readExpectations parses catalogue.expect.tsv: line, field, reason
// substring; field "-" means accepted and "(line)" a whole-line problem.
func readExpectations(t *testing.T, path string) map[int]expectation {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[int]expectation{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sc.Text() == "" || strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) != 3 {
			t.Fatalf("expect.tsv: %q has %d columns", sc.Text(), len(cols))
		}
		n, err := strconv.Atoi(cols[0])
		if err != nil {
			t.Fatalf("expect.tsv: %v", err)
		}
		field := cols[1]
		if field == "(line)" {
			field = ""
		}
		want[n] = expectation{field, cols[2]}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return want
}

// TestMalformedCatalogue reads fixtures/malformed/catalogue.ndjson with the
// lines only a program can write (invalid UTF-8, an over-long line)
// appended, and checks every line against catalogue.expect.tsv, read at a
// fixed time (the reader's Options.Now).
func TestMalformedCatalogue(t *testing.T) {
	batch, err := os.ReadFile("../fixtures/malformed/catalogue.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	want := readExpectations(t, "../fixtures/malformed/catalogue.expect.tsv")
	const maxLine = 8 << 10
	n := bytes.Count(batch, []byte("\n"))
	extra := []struct {
		line string
		exp  expectation
	}{
		{strings.Replace(psychologyLine, "Oppilas", "Oppil\xe4s", 1), expectation{"", "not valid UTF-8"}},
		{psychologyLine, expectation{"-", ""}},
		{mutate(t, psychologyLine, map[string]any{"text.narrative": strings.Repeat("ä", maxLine)}), expectation{"", "longer than 8192 bytes"}},
		{psychologyLine, expectation{"-", ""}},
	}
	for i, x := range extra {
		batch = append(append(batch, x.line...), '\n')
		want[n+i+1] = x.exp
	}

	malformed := 0
	for _, w := range want {
		if w.field != "-" {
			malformed++
		}
	}
	if malformed < 35 {
		t.Fatalf("catalogue has %d malformed lines, want at least 35", malformed)
	}

	seen := map[int]bool{}
	// The time of reading bounds finalized_at: the catalogue's lines with a
	// finalized_at more than a day after it are rejected.
	readAt := func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) }
	for _, it := range readAll(t, string(batch), adapter.Options{MaxLineBytes: maxLine, Now: readAt}) {
		seen[it.Line] = true
		w, ok := want[it.Line]
		if !ok {
			t.Errorf("line %d: not in the expectations", it.Line)
			continue
		}
		if w.field == "-" {
			if it.Rejection != nil {
				t.Errorf("line %d: rejected, want accepted: %v", it.Line, it.Rejection)
			}
			continue
		}
		if it.Rejection == nil {
			t.Errorf("line %d: accepted, want %q: %s", it.Line, w.field, w.reason)
			continue
		}
		if it.Rejection.Field != w.field || !strings.Contains(it.Rejection.Reason, w.reason) {
			t.Errorf("line %d: got %q: %s; want %q: ...%s...", it.Line, it.Rejection.Field, it.Rejection.Reason, w.field, w.reason)
		}
		assertNoPersonalData(t, string(it.Rejection.Raw), it.Rejection)
	}
	for line := range want {
		if !seen[line] {
			t.Errorf("line %d: no item", line)
		}
	}
}
