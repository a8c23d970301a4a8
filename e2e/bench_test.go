package e2e

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/gen"
)

// BenchmarkOnce10k runs `kanta-gateway once` over 10,000 generated entries
// against mock-kanta (mutual TLS, loopback, signature verification on) on
// the embedded SQLite queue, and reports end-to-end documents per second and
// the gateway's peak RSS. Each iteration is a fresh gateway and mock.
//
//	go test ./e2e -run '^$' -bench Once10k -benchtime 1x
func BenchmarkOnce10k(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		batch := filepath.Join(dir, "generated.ndjson")
		f, err := os.Create(batch)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := gen.Write(f, gen.Options{N: 10000, Seed: 9}); err != nil {
			b.Fatal(err)
		}
		f.Close()
		m := startMock(b, filepath.Join(dir, "mock"), "")
		s := newSite(b, m, "sqlite", "", "")
		s.copyToSpool(batch)
		b.StartTimer()
		start := time.Now()
		cmd := s.command([]string{"KANTA_GATEWAY_NOW=" + crashNow}, "once", "--timeout", "10m")
		cmd.Stdout, cmd.Stderr = s.logs, s.logs
		err = cmd.Run()
		took := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatalf("once: %v\n%s", err, tail(s.logs.String()))
		}
		docs := len(m.documents())
		if docs < 9000 {
			b.Fatalf("only %d documents stored", docs)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		b.ReportMetric(float64(docs)/took.Seconds(), "docs/s")
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
		b.ReportMetric(float64(docs), "docs")
	}
}
