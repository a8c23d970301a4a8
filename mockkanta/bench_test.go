package mockkanta

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/fhir"
)

// BenchmarkAcceptMessages measures accepted archive messages per second
// through the handler in-process: frame parsing, profile check, signature
// verification (RSA-2048, chain to the test CA), the store's version checks
// and the SQLite insert (WAL file in a temp dir). Each message carries a
// distinct document with 4 KiB of entry text. Run on one core with
//
//	go test -run '^$' -bench BenchmarkAcceptMessages -cpu 1 ./mockkanta/
func BenchmarkAcceptMessages(b *testing.B) {
	text := strings.Repeat("Oppilaan kanssa keskusteltiin koulunkäynnistä ja jaksamisesta. ", 66)[:4096]
	msgs := make([][]byte, b.N)
	var size int
	for i := range msgs {
		e := entry(fmt.Sprintf("BENCH-%d-%d", b.N, i), documents.RolePsychologist, "2014-01-01")
		e.Text.Narrative = text
		built := build(b, spec{entry: e, decision: decide(e, true)})
		msgs[i] = built.message
		size += len(built.cda)
	}
	s, err := New(Config{TrustRoots: testPKI.roots, DataDir: benchDataDir(b), Schema: testSchema})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	accepted := []byte(`typeCode="CA"`) // the accept family, the mock's default
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/archive/v1/messages", bytes.NewReader(msgs[i]))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !bytes.Contains(rec.Body.Bytes(), accepted) {
			b.Fatalf("message %d not accepted: %s", i, rec.Body.Bytes())
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(size)/float64(b.N), "cda-bytes")
}

func benchDataDir(b *testing.B) string {
	if os.Getenv("BENCH_MEM") != "" {
		return ""
	}
	return b.TempDir()
}

// BenchmarkAcceptBundles is BenchmarkAcceptMessages for the FHIR route:
// JSON Schema validation, strict decoding, profile checks, JWS verification
// (RS256 over the JCS canonical form, chain to the test CA) and the store.
//
//	go test -run '^$' -bench BenchmarkAcceptBundles -cpu 1 ./mockkanta/
func BenchmarkAcceptBundles(b *testing.B) {
	text := strings.Repeat("Oppilaan kanssa keskusteltiin koulunkäynnistä ja jaksamisesta. ", 66)[:4096]
	bundles := make([][]byte, b.N)
	var size int
	for i := range bundles {
		e := entry(fmt.Sprintf("FBENCH-%d-%d", b.N, i), documents.RolePsychologist, "2014-01-01")
		e.Text.Narrative = text
		bundles[i] = buildBundle(b, bundleSpec{entry: e, decision: decide(e, true)}).raw
		size += len(bundles[i])
	}
	s, err := New(Config{TrustRoots: testPKI.roots, DataDir: benchDataDir(b), Schema: testSchema})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	h := s.Handler()
	// The schema is compiled once per process, on first use: not per bundle.
	if err := fhir.Validate(bundles[0]); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpuBefore := processCPU(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/fhir/r4/Bundle", bytes.NewReader(bundles[i]))
		req.Header.Set("Content-Type", "application/fhir+json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("bundle %d: %d %s", i, rec.Code, rec.Body.Bytes())
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "bundles/s")
	b.ReportMetric(float64(size)/float64(b.N), "json-bytes")
	// CPU time (user + system, every thread: the GC's too) per Bundle: on a
	// shared machine the wall clock measures the load, this the work.
	b.ReportMetric(float64((processCPU(b)-cpuBefore).Microseconds())/float64(b.N), "cpu-µs/bundle")
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
