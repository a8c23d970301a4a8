package adapter_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/adapter"
)

func gzipped(t testing.TB, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// summary is "L<line>:ok" or "L<line>:<field>" per item, for compact
// expectations.
func summary(items []adapter.Item) string {
	var parts []string
	for _, it := range items {
		s := "L" + itoa(it.Line) + ":"
		if it.Entry != nil {
			s += "ok"
		} else {
			s += "rej(" + it.Rejection.Field + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestBlankLinesAndLineNumbers(t *testing.T) {
	batch := "\n" + psychologyLine + "\n   \n\t\r\n[]\n\n" + psychologyLine + "\n\n"
	got := summary(readAll(t, batch, adapter.Options{}))
	if want := "L2:ok L5:rej() L7:ok"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if items := readAll(t, "", adapter.Options{}); len(items) != 0 {
		t.Fatalf("empty batch gave %d items", len(items))
	}
	if items := readAll(t, "\n \n", adapter.Options{}); len(items) != 0 {
		t.Fatalf("blank batch gave %d items", len(items))
	}
}

func TestCRLFAndByteOrderMark(t *testing.T) {
	batch := "\xef\xbb\xbf" + psychologyLine + "\r\n" + psychologyLine + "\r\n\r\n"
	items := readAll(t, batch, adapter.Options{})
	if got := summary(items); got != "L1:ok L2:ok" {
		t.Fatalf("got %s", got)
	}
	// A rejected CRLF line is quarantined without its terminator.
	items = readAll(t, "[]\r\n", adapter.Options{})
	if string(items[0].Rejection.Raw) != "[]" {
		t.Fatalf("Raw %q", items[0].Rejection.Raw)
	}
}

func TestLastLineWithoutNewline(t *testing.T) {
	items := readAll(t, psychologyLine+"\n"+psychologyLine, adapter.Options{})
	if got := summary(items); got != "L1:ok L2:ok" {
		t.Fatalf("got %s", got)
	}
	// A last line cut short by the exporter is a truncated object.
	items = readAll(t, psychologyLine+"\n"+psychologyLine[:200], adapter.Options{})
	if got := summary(items); got != "L1:ok L2:rej()" || !strings.Contains(items[1].Rejection.Reason, "truncated JSON") {
		t.Fatalf("got %s %v", got, items[1].Rejection)
	}
}

func TestOverLongLines(t *testing.T) {
	longEntry := func(n int) string {
		return mutate(t, psychologyLine, map[string]any{"text.narrative": strings.Repeat("a", n)})
	}
	t.Run("within the read buffer", func(t *testing.T) {
		batch := longEntry(5000) + "\n" + psychologyLine + "\n"
		items := readAll(t, batch, adapter.Options{MaxLineBytes: 2000})
		if got := summary(items); got != "L1:rej() L2:ok" {
			t.Fatalf("got %s", got)
		}
		rej := items[0].Rejection
		if !strings.Contains(rej.Reason, "longer than 2000 bytes") || rej.Raw != nil {
			t.Fatalf("rejection %v, raw %d bytes", rej, len(rej.Raw))
		}
	})
	t.Run("beyond the read buffer", func(t *testing.T) {
		// 300 kB over a 200 kB limit, then a 150 kB line that must be
		// assembled from several reads, then a short line.
		batch := longEntry(300_000) + "\n" + longEntry(150_000) + "\r\n" + psychologyLine + "\n"
		items := readAll(t, batch, adapter.Options{MaxLineBytes: 200_000})
		if got := summary(items); got != "L1:rej() L2:ok L3:ok" {
			t.Fatalf("got %s", got)
		}
		if n := len(items[1].Entry.Text.Narrative); n != 150_000 {
			t.Fatalf("assembled narrative has %d bytes", n)
		}
	})
	t.Run("exactly at the limit", func(t *testing.T) {
		line := longEntry(100_000)
		for _, eol := range []string{"\n", "\r\n", ""} {
			items := readAll(t, line+eol, adapter.Options{MaxLineBytes: len(line)})
			if got := summary(items); got != "L1:ok" {
				t.Fatalf("eol %q: got %s", eol, got)
			}
			items = readAll(t, line+eol, adapter.Options{MaxLineBytes: len(line) - 1})
			if got := summary(items); got != "L1:rej()" {
				t.Fatalf("one byte over, eol %q: got %s", eol, got)
			}
		}
	})
	t.Run("last line over the limit without newline", func(t *testing.T) {
		items := readAll(t, psychologyLine+"\n"+longEntry(100_000), adapter.Options{MaxLineBytes: 70_000})
		if got := summary(items); got != "L1:ok L2:rej()" {
			t.Fatalf("got %s", got)
		}
	})
}

func TestGzip(t *testing.T) {
	batch := psychologyLine + "\n[]\n" + psychologyLine + "\n"
	dir := t.TempDir()
	// Detected by content, not by name.
	for _, name := range []string{"batch.ndjson.gz", "misnamed.ndjson"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, gzipped(t, batch), 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := adapter.Open(path, adapter.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var items []adapter.Item
		for {
			it, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			items = append(items, it)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if got := summary(items); got != "L1:ok L2:rej() L3:ok" {
			t.Fatalf("%s: got %s", name, got)
		}
		if items[1].Rejection.File != path {
			t.Fatalf("rejection names %q", items[1].Rejection.File)
		}
	}
	// Concatenated gzip members are one stream (as `cat a.gz b.gz` makes).
	two := append(gzipped(t, psychologyLine+"\n"), gzipped(t, psychologyLine+"\n")...)
	r := adapter.NewReader(bytes.NewReader(two), "two.ndjson.gz", adapter.Options{})
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Fatalf("%d entries from two gzip members", n)
	}
}

// nextUntilError reads until Next fails and returns that error.
func nextUntilError(r *adapter.Reader) error {
	for i := 0; i < 1_000_000; i++ {
		if _, err := r.Next(); err != nil {
			return err
		}
	}
	return nil
}

func TestStreamFailures(t *testing.T) {
	var batch strings.Builder
	for range 200 {
		batch.WriteString(psychologyLine + "\n")
	}
	gz := gzipped(t, batch.String())

	t.Run("truncated gzip", func(t *testing.T) {
		r := adapter.NewReader(bytes.NewReader(gz[:len(gz)/2]), "cut.ndjson.gz", adapter.Options{})
		err := nextUntilError(r)
		if err == nil || err == io.EOF || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("got %v, want an unexpected EOF", err)
		}
		if _, again := r.Next(); again != err {
			t.Fatalf("error is not sticky: %v", again)
		}
	})
	t.Run("corrupt gzip", func(t *testing.T) {
		bad := bytes.Clone(gz)
		for i := len(bad) / 3; i < len(bad)/3+16; i++ {
			bad[i] ^= 0xff
		}
		err := nextUntilError(adapter.NewReader(bytes.NewReader(bad), "bad.ndjson.gz", adapter.Options{}))
		if err == nil || err == io.EOF {
			t.Fatalf("got %v, want a stream error", err)
		}
	})
	t.Run("corrupt gzip header", func(t *testing.T) {
		bad := bytes.Clone(gz[:10])
		bad[2] = 0 // compression method other than deflate
		err := nextUntilError(adapter.NewReader(bytes.NewReader(bad), "hdr.ndjson.gz", adapter.Options{}))
		if err == nil || err == io.EOF || !strings.Contains(err.Error(), "gzip") {
			t.Fatalf("got %v, want a gzip error", err)
		}
	})
	t.Run("read error", func(t *testing.T) {
		boom := errors.New("disk gone")
		rd := io.MultiReader(strings.NewReader(psychologyLine+"\n"+psychologyLine[:100]), errReader{boom})
		r := adapter.NewReader(rd, "x.ndjson", adapter.Options{})
		it, err := r.Next()
		if err != nil || it.Entry == nil {
			t.Fatalf("first line: %v %v", err, it.Rejection)
		}
		if _, err := r.Next(); !errors.Is(err, boom) {
			t.Fatalf("got %v, want the read error", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		if _, err := adapter.Open(filepath.Join(t.TempDir(), "none.ndjson"), adapter.Options{}); err == nil {
			t.Fatal("opened a missing file")
		}
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
