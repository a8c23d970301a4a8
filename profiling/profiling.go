// Package profiling writes CPU and heap profiles of a whole process run when
// KANTA_PROFILE_DIR names a directory, so a benchmark of the real binaries
// (e2e BenchmarkOnce10k, scripts/profile.sh) can see where each process
// spends its time without a patched copy of the mains. Unset, it does
// nothing. Profiles hold function names and sizes only, no data.
package profiling

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
)

// EnvDir is the environment variable naming the profile directory.
const EnvDir = "KANTA_PROFILE_DIR"

// Start begins a CPU profile of the process named name when EnvDir is set;
// the returned stop writes the heap profile and ends the CPU one. Call stop
// on the way out of main (also after SIGTERM), or the CPU profile is empty.
func Start(name string) (stop func()) {
	dir := os.Getenv(EnvDir)
	if dir == "" {
		return func() {}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, "profiling:", err)
		return func() {}
	}
	base := filepath.Join(dir, fmt.Sprintf("%s-%d", name, os.Getpid()))
	cpu, err := os.OpenFile(base+".cpu.pprof", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "profiling:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		fmt.Fprintln(os.Stderr, "profiling:", err)
		cpu.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		cpu.Close()
		heap, err := os.OpenFile(base+".heap.pprof", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, "profiling:", err)
			return
		}
		defer heap.Close()
		runtime.GC() // the heap profile shows what is live at the end, plus allocation totals
		if err := pprof.Lookup("allocs").WriteTo(heap, 0); err != nil {
			fmt.Fprintln(os.Stderr, "profiling:", err)
		}
	}
}
