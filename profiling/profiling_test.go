package profiling

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestStartWritesProfilesOnlyWhenAsked(t *testing.T) {
	t.Setenv(EnvDir, "")
	Start("unset")()

	dir := t.TempDir()
	t.Setenv(EnvDir, dir)
	stop := Start("unit")
	x := 0
	for i := 0; i < 30_000_000; i++ { // some CPU for the profiler to sample
		x += i % 7
	}
	_ = x
	stop()
	for _, kind := range []string{"cpu", "heap"} {
		matches, _ := filepath.Glob(filepath.Join(dir, "unit-*."+kind+".pprof"))
		if len(matches) != 1 {
			t.Fatalf("%s profiles: %v", kind, matches)
		}
		b, err := os.ReadFile(matches[0])
		if err != nil {
			t.Fatal(err)
		}
		// A pprof profile is gzipped protobuf; an unstopped CPU profile is empty.
		if len(b) < 100 || !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			t.Errorf("%s profile: %d bytes, not a written pprof file", kind, len(b))
		}
		if st, _ := os.Stat(matches[0]); st.Mode().Perm() != 0o600 {
			t.Errorf("%s profile mode %v, want 0600", kind, st.Mode().Perm())
		}
	}
}
