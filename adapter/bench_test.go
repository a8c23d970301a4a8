package adapter_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/adapter"
	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/gen"
)

// BenchmarkReadValidatePolicy measures the intake path of one batch: read,
// parse and validate every line, then decide it with the default policy.
// The target is 50,000 entries/s on one core:
//
//	go test -run '^$' -bench ReadValidatePolicy -benchmem -cpu 1 ./adapter/
func BenchmarkReadValidatePolicy(b *testing.B) {
	const n = 20000
	var plain bytes.Buffer
	if _, err := gen.Write(&plain, gen.Options{N: n, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	var compressed bytes.Buffer
	zw := gzip.NewWriter(&compressed)
	if _, err := zw.Write(plain.Bytes()); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	policy := cfg.PolicyEngine()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

	for _, bc := range []struct {
		name  string
		batch []byte
	}{{"ndjson", plain.Bytes()}, {"ndjson.gz", compressed.Bytes()}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(plain.Len()))
			entries := 0
			for b.Loop() {
				r := adapter.NewReader(bytes.NewReader(bc.batch), "bench."+bc.name, adapter.Options{})
				for {
					it, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					if it.Entry == nil {
						b.Fatalf("line %d rejected: %v", it.Line, it.Rejection)
					}
					if d := policy.Decide(it.Entry, now, documents.NoHistory{}); d.Outcome == "" {
						b.Fatal("no outcome")
					}
					entries++
				}
				if err := r.Close(); err != nil {
					b.Fatal(err)
				}
			}
			if entries != b.N*n {
				b.Fatalf("read %d entries in %d rounds, want %d each", entries, b.N, n)
			}
			b.ReportMetric(float64(entries)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
