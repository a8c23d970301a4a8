package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
		// CPU per document barely moves with the machine's load, unlike
		// docs/s: what the two processes would need of a quiet machine.
		gatewayCPU := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		b.ReportMetric(float64(gatewayCPU.Microseconds())/1000/float64(docs), "gateway-CPU-ms/doc")
		if mockCPU, ok := processCPU(m.cmd.Process.Pid); ok {
			b.ReportMetric(float64(mockCPU.Microseconds())/1000/float64(docs), "mock-CPU-ms/doc")
		}
		b.ReportMetric(float64(docs)/took.Seconds(), "docs/s")
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
		b.ReportMetric(float64(docs), "docs")
	}
}

// processCPU is the user + system CPU time a running process has used
// (/proc/PID/stat fields 14 and 15, in clock ticks of 1/100 s on Linux).
func processCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}
