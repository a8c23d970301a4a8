package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// syncBuffer is a log sink the pipeline's goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// spoolSetup gives an ingester over a spool in dir, logging to the buffer.
func spoolSetup(t *testing.T, dir string) (*config.Config, *Ingester, queue.Queue, *syncBuffer) {
	t.Helper()
	cfg, b, q := ingestSetup(t, dir)
	cfg.Spool.Dir = filepath.Join(dir, "spool")
	cfg.Spool.DoneDir = filepath.Join(dir, "spool", "done")
	if err := os.MkdirAll(cfg.Spool.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	in := NewIngester(cfg, b, q, clock.NewManual(testNow), slog.New(slog.NewTextHandler(logs, nil)), Hooks{})
	return cfg, in, q, logs
}

// writeAtomically writes a batch as the exporter does: a temporary name,
// then a rename into place (over whatever has that name).
func writeAtomically(t *testing.T, path string, body []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func batchOf(ids ...string) []byte {
	var lines []string
	for _, id := range ids {
		lines = append(lines, final(id))
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}

func mustSeen(t *testing.T, q queue.Queue, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if seen, err := q.Seen(context.Background(), id, 1); err != nil || !seen {
			t.Errorf("entry %s not in the ledger (%v)", id, err)
		}
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// The exporter renames a new batch over the one being read, under the
// same name. The new file is a new batch: it is read in full on the next
// pass, never moved to done/ unread. Before claiming, the gateway read the
// old file by its open descriptor and then moved the name, that is the
// new file, to done/.
func TestRenamedOverBatchIsANewBatch(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, in, q, _ := spoolSetup(t, dir)
	batch := filepath.Join(cfg.Spool.Dir, "daily.ndjson")
	writeAtomically(t, batch, batchOf("OLD-1", "OLD-2", "OLD-3"))
	renamed := false
	in.hookClaimed = func(name string) {
		if !renamed {
			renamed = true
			writeAtomically(t, batch, batchOf("NEW-1", "NEW-2"))
		}
	}
	if _, err := in.IngestSpool(ctx); err != nil {
		t.Fatal(err)
	}
	if !renamed {
		t.Fatal("the hook never ran")
	}
	if _, err := in.IngestSpool(ctx); err != nil {
		t.Fatal(err)
	}
	mustSeen(t, q, "OLD-1", "OLD-2", "OLD-3", "NEW-1", "NEW-2")
	done := dirNames(t, cfg.Spool.DoneDir)
	if len(done) != 2 || done[0] != "daily.ndjson" || done[1] != "daily.ndjson.1" {
		t.Fatalf("done/ holds %v, want both batches", done)
	}
	for i, want := range []string{"OLD-1", "NEW-1"} {
		b, err := os.ReadFile(filepath.Join(cfg.Spool.DoneDir, done[i]))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("done/%s does not hold %s (%v)", done[i], want, err)
		}
	}
	if _, err := os.Stat(batch); !os.IsNotExist(err) {
		t.Errorf("the spool still holds %s (%v)", batch, err)
	}
}

// A batch claimed by a process that crashed is read again on the next
// start; one a live reader holds (locked) is left to it.
func TestClaimLeftByCrashIsReadAgain(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, in, q, _ := spoolSetup(t, dir)
	claimDir := filepath.Join(cfg.Spool.Dir, ProcessingDirName, "claim-123")
	if err := os.MkdirAll(claimDir, 0o700); err != nil {
		t.Fatal(err)
	}
	claimed := filepath.Join(claimDir, "crashed.ndjson")
	if err := os.WriteFile(claimed, batchOf("CRASH-1", "CRASH-2"), 0o600); err != nil {
		t.Fatal(err)
	}

	// A live reader (another replica) holds it: skipped.
	f, err := os.Open(claimed)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	pass, err := in.IngestSpool(ctx)
	if err != nil || len(pass.Batches) != 0 {
		t.Fatalf("a held claim was read: %v %v", pass, err)
	}
	f.Close() // the reader dies: its lock goes with it

	pass, err = in.IngestSpool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pass.Batches) != 1 || pass.Batches[0].File != filepath.Join(cfg.Spool.Dir, "crashed.ndjson") {
		t.Fatalf("claims read %v, want crashed.ndjson under its spool name", pass.Batches)
	}
	mustSeen(t, q, "CRASH-1", "CRASH-2")
	if got := dirNames(t, cfg.Spool.DoneDir); len(got) != 1 || got[0] != "crashed.ndjson" {
		t.Errorf("done/ holds %v", got)
	}
	if got := dirNames(t, filepath.Join(cfg.Spool.Dir, ProcessingDirName)); len(got) != 0 {
		t.Errorf("processing/ still holds %v", got)
	}
}

// Only regular files are batches. A FIFO, a symbolic link and a directory
// named like batches are refused, never opened, and reported once by name;
// the pass does not hang on the FIFO (an open of a FIFO waits for a
// writer), and the good batch beside them is read.
func TestSpoolRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	cfg, in, q, logs := spoolSetup(t, dir)
	sp := cfg.Spool.Dir
	if err := syscall.Mkfifo(filepath.Join(sp, "pipe.ndjson"), 0o600); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(dir, "outside.ndjson")
	if err := os.WriteFile(outside, batchOf("LINKED-1"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(sp, "link.ndjson")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(sp, "folder.ndjson"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeAtomically(t, filepath.Join(sp, "good.ndjson"), batchOf("GOOD-1"))

	for pass := 1; pass <= 2; pass++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		type result struct {
			p   *SpoolPass
			err error
		}
		res := make(chan result, 1)
		go func() { p, err := in.IngestSpool(ctx); res <- result{p, err} }()
		select {
		case r := <-res:
			if r.err != nil {
				t.Fatalf("pass %d: %v", pass, r.err)
			}
			if r.p.Refused != 3 {
				t.Errorf("pass %d: %d refused, want 3", pass, r.p.Refused)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("pass %d hangs on a spool entry that is not a regular file", pass)
		}
		cancel()
	}
	mustSeen(t, q, "GOOD-1")
	if seen, _ := q.Seen(context.Background(), "LINKED-1", 1); seen {
		t.Error("the symbolic link was followed and read")
	}
	for _, n := range []string{"pipe.ndjson", "link.ndjson", "folder.ndjson"} {
		if c := strings.Count(logs.String(), "file="+n); c != 1 {
			t.Errorf("%s reported %d times over two passes, want once", n, c)
		}
		if _, err := os.Lstat(filepath.Join(sp, n)); err != nil {
			t.Errorf("%s was moved: %v", n, err)
		}
	}
	if got := dirNames(t, cfg.Spool.DoneDir); len(got) != 1 || got[0] != "good.ndjson" {
		t.Errorf("done/ holds %v, want the good batch only", got)
	}
	if strings.Contains(logs.String(), "150315A914E") {
		t.Error("an identity code reached the log")
	}
}

// A FIFO renamed over a batch after the listing is still not opened for
// reading in a way that waits: the claimed file is opened non-blocking and
// refused.
func TestClaimedFIFOIsRefusedWithoutWaiting(t *testing.T) {
	p := filepath.Join(t.TempDir(), "late.ndjson")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		f, err := openClaimed(p)
		if f != nil {
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if _, ok := err.(*notRegularError); !ok {
			t.Errorf("FIFO opened: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("opening a claimed FIFO waits for a writer")
	}
}

func gzipped(t *testing.T, body []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A corrupt gzip batch is quarantined once, whole, with its reason; what
// could be read before the damage is ingested; the next pass does not see
// it again.
func TestCorruptGzipBatchIsQuarantinedOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, in, q, _ := spoolSetup(t, dir)
	whole := gzipped(t, batchOf("GZ-1", "GZ-2"))
	truncated := whole[:len(whole)-6] // the checksum trailer cut off
	writeAtomically(t, filepath.Join(cfg.Spool.Dir, "cut.ndjson.gz"), truncated)
	writeAtomically(t, filepath.Join(cfg.Spool.Dir, "header.ndjson.gz"), []byte("\x1f\x8bnot gzip at all"))

	pass, err := in.IngestSpool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pass.Batches) != 2 {
		t.Fatalf("%d batch summaries, want 2", len(pass.Batches))
	}
	for _, s := range pass.Batches {
		if s.Corrupt == "" {
			t.Errorf("%s: not reported corrupt", s.File)
		}
	}
	mustSeen(t, q, "GZ-1", "GZ-2")
	if got := dirNames(t, cfg.Spool.Dir); len(got) != 1 || got[0] != ProcessingDirName {
		t.Errorf("spool holds %v after the pass", got)
	}
	if got := dirNames(t, filepath.Join(cfg.Spool.Dir, ProcessingDirName)); len(got) != 0 {
		t.Errorf("processing/ holds %v", got)
	}
	check := func() {
		for _, name := range []string{"cut.ndjson.gz", "header.ndjson.gz"} {
			moved, _ := filepath.Glob(filepath.Join(cfg.Spool.QuarantineDir, name+".*.corrupt"))
			reasons, _ := filepath.Glob(filepath.Join(cfg.Spool.QuarantineDir, name+".*.reasons.jsonl"))
			if len(moved) != 1 || len(reasons) != 1 {
				t.Fatalf("%s: quarantine holds %v and %v", name, moved, reasons)
			}
			b, err := os.ReadFile(reasons[0])
			if err != nil || strings.Count(string(b), "\n") != 1 || !strings.Contains(string(b), "corrupt") {
				t.Errorf("%s: reasons %q (%v), want one line with the reason", name, b, err)
			}
		}
	}
	check()
	pass, err = in.IngestSpool(ctx)
	if err != nil || len(pass.Batches) != 0 {
		t.Errorf("second pass read %v (%v)", pass.Batches, err)
	}
	check()
}

// Every rejection keeps its raw line in the quarantine: the adapter's, the
// policy's and the builder's, each beside its reason on the same line.
func TestQuarantineKeepsTheRawLineOfEveryRejection(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, in, _, _ := spoolSetup(t, dir)
	notJSON := `{"entry_id": `
	policy := fmt.Sprintf(psychologistLine, "POLICY-1", 1, `"status": "final", "restrictions": {"mykanta": {"display": "hidden"}}`)
	build := strings.Replace(final("BUILD-1"), `"organiser_oid": "1.2.246.10.2012566.19.1"`, `"organiser_oid": "1.2.246.10.2012566.19.9"`, 1)
	good := final("GOOD-1")
	writeAtomically(t, filepath.Join(cfg.Spool.Dir, "mixed.ndjson"), []byte(strings.Join([]string{notJSON, policy, good, build}, "\n")+"\n"))

	pass, err := in.IngestSpool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pass.Batches) != 1 || pass.Batches[0].Rejected != 3 {
		t.Fatalf("summaries %+v, want one batch with 3 rejections", pass.Batches)
	}
	lines, _ := filepath.Glob(filepath.Join(cfg.Spool.QuarantineDir, "mixed.ndjson.*.rejected.ndjson"))
	reasons, _ := filepath.Glob(filepath.Join(cfg.Spool.QuarantineDir, "mixed.ndjson.*.reasons.jsonl"))
	if len(lines) != 1 || len(reasons) != 1 {
		t.Fatalf("quarantine files %v %v", lines, reasons)
	}
	rl, _ := os.ReadFile(lines[0])
	rr, _ := os.ReadFile(reasons[0])
	gotLines := strings.Split(strings.TrimSuffix(string(rl), "\n"), "\n")
	gotReasons := strings.Split(strings.TrimSuffix(string(rr), "\n"), "\n")
	want := []struct{ raw, reason string }{{notJSON, `"line":1`}, {policy, `"entry_id":"POLICY-1"`}, {build, `"entry_id":"BUILD-1"`}}
	if len(gotLines) != len(want) || len(gotReasons) != len(want) {
		t.Fatalf("%d quarantined lines and %d reasons, want %d", len(gotLines), len(gotReasons), len(want))
	}
	for i, w := range want {
		if gotLines[i] != w.raw {
			t.Errorf("quarantined line %d is %.80q, want the raw line %.80q", i+1, gotLines[i], w.raw)
		}
		if !strings.Contains(gotReasons[i], w.reason) {
			t.Errorf("reason %d %s, want %s", i+1, gotReasons[i], w.reason)
		}
	}
}

// A quarantine write that fails is an error the operator sees: logged,
// counted, the pass fails, and the batch stays claimed (its rejected lines
// are nowhere else) until a later pass quarantines them.
func TestFailedQuarantineWriteIsAnError(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, in, q, logs := spoolSetup(t, dir)
	// A line the adapter refuses, and one the policy refuses (with an
	// entry id: it is audited too).
	badHetu := strings.Replace(final("BADHETU"), "150315A914E", "150315A914F", 1)
	writeAtomically(t, filepath.Join(cfg.Spool.Dir, "full.ndjson"), []byte(final("OK-1")+"\n"+`{"entry_id": `+"\n"+badHetu+"\n"))
	// The disk is full: every write fails (/dev/full answers ENOSPC).
	in.openQuarantine = func(string, int, os.FileMode) (*os.File, error) {
		return os.OpenFile("/dev/full", os.O_WRONLY, 0)
	}
	pass, err := in.IngestSpool(ctx)
	if err == nil {
		t.Fatal("a failed quarantine write passed silently")
	}
	if len(pass.Batches) != 1 || pass.Batches[0].QuarantineFailed != 2 {
		t.Fatalf("summaries %+v, want the failed line counted", pass.Batches)
	}
	if !strings.Contains(logs.String(), "NOT quarantined") {
		t.Errorf("the failure is not logged: %s", logs.String())
	}
	if got := dirNames(t, cfg.Spool.DoneDir); len(got) != 0 {
		t.Errorf("the batch went to done/ with its rejected line unquarantined: %v", got)
	}
	mustSeen(t, q, "OK-1")

	in.openQuarantine = nil // space again
	if _, err := in.IngestSpool(ctx); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, cfg.Spool.DoneDir); len(got) != 1 {
		t.Errorf("done/ holds %v after the retry", got)
	}
	lines, _ := filepath.Glob(filepath.Join(cfg.Spool.QuarantineDir, "full.ndjson.*.rejected.ndjson"))
	if len(lines) != 1 {
		t.Fatalf("quarantine %v", lines)
	}
	if b, _ := os.ReadFile(lines[0]); string(b) != `{"entry_id": `+"\n"+badHetu+"\n" {
		t.Errorf("quarantined %q", b)
	}
	// The audit row of the rejection came with its quarantine entry: one,
	// written by the pass that could quarantine it.
	if ev, err := q.Audit(ctx, queue.AuditQuery{EntryID: "BADHETU"}); err != nil || len(ev) != 1 || ev[0].Event != queue.EventRejected {
		t.Errorf("audit of the rejected line: %+v %v, want one rejected row", ev, err)
	}
}

// A quarantine directory that cannot be made (here: below a regular file,
// which even root cannot write into) fails the pass the same way.
func TestUnwritableQuarantineDirIsAnError(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, in, _, _ := spoolSetup(t, dir)
	blocker := filepath.Join(dir, "not-a-dir")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Spool.QuarantineDir = filepath.Join(blocker, "quarantine")
	writeAtomically(t, filepath.Join(cfg.Spool.Dir, "b.ndjson"), []byte(`{"entry_id": `+"\n"))
	pass, err := in.IngestSpool(ctx)
	if err == nil || len(pass.Batches) != 1 || pass.Batches[0].QuarantineFailed != 1 {
		t.Fatalf("pass %+v, error %v: want the failed quarantine counted and an error", pass.Batches, err)
	}
	if got := dirNames(t, cfg.Spool.DoneDir); len(got) != 0 {
		t.Errorf("done/ holds %v", got)
	}
}
