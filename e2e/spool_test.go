package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A FIFO named like a batch sits in the spool (an open of it waits for a
// writer for ever). The daemon refuses it by name, reads the good batch
// beside it, and SIGTERM still stops it within a couple of seconds.
func TestDaemonWithAFIFOInTheSpoolStopsOnSIGTERM(t *testing.T) {
	m := startMock(t, t.TempDir(), "")
	s := newSite(t, m, "sqlite", "", "")
	if err := syscall.Mkfifo(filepath.Join(s.spool, "pipe.ndjson"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.copyToSpool(scenarioFiles[0])
	cmd, _ := s.daemon(nil)
	m.waitDocuments(15, 60*time.Second)
	if !strings.Contains(s.logs.String(), "pipe.ndjson") {
		t.Errorf("the FIFO is not reported by name:\n%s", s.logs.String())
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("SIGTERM took %s to stop the daemon", took)
		}
		if err != nil {
			t.Errorf("daemon exit: %v", err)
		}
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("the daemon did not stop within 15s of SIGTERM with a FIFO in the spool")
	}
	if _, err := os.Lstat(filepath.Join(s.spool, "pipe.ndjson")); err != nil {
		t.Errorf("the FIFO was moved: %v", err)
	}
	scanLogs(t, s.logs.String(), personalData(t, scenarioFiles[0]))
}
