package adapter

import (
	"io"
	"strings"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// TestOverLongLineIsNotBuffered: a line over the limit is skipped without
// growing the line buffer beyond the limit, and reading goes on.
func TestOverLongLineIsNotBuffered(t *testing.T) {
	const limit = 100_000
	huge := `{"entry_id":"` + strings.Repeat("x", 5_000_000) + `"}`
	r := NewReader(strings.NewReader(huge+"\n[]\n"), "huge.ndjson", Options{MaxLineBytes: limit})
	it, err := r.Next()
	if err != nil || it.Rejection == nil || it.Line != 1 {
		t.Fatalf("first item: %+v, %v", it, err)
	}
	if c := cap(r.lineBuf); c > 2*limit+readBufferBytes {
		t.Fatalf("line buffer grew to %d bytes for a skipped line (limit %d)", c, limit)
	}
	it, err = r.Next()
	if err != nil || it.Rejection == nil || it.Line != 2 || string(it.Rejection.Raw) != "[]" {
		t.Fatalf("second item: %+v, %v", it, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

// The OID rule itself lives in documents; the adapter relies on it.
func TestValidOID(t *testing.T) {
	for s, want := range map[string]bool{
		"1.2.246.10.2012566.19.1": true, "0.0": true, "2.999": true, "1.0.0": true,
		"": false, "1": false, "3.1": false, "1.": false, ".1": false, "1..2": false,
		"1.02": false, "01.2": false, "1.2a": false, "1.2.-3": false, "1,2": false, "١.٢": false,
	} {
		if got := documents.ValidOID(s); got != want {
			t.Errorf("validOID(%q) = %v, want %v", s, got, want)
		}
	}
}
