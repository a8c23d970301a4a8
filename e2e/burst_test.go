package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/gen"
)

// goLive is the social welfare go-live, 2026-09-01 00:00 Helsinki time.
var goLive = time.Date(2026, 9, 1, 0, 0, 0, 0, time.FixedZone("EEST", 3*3600))

// writeHeldBatch writes generated school welfare officer entries finalized
// in 2025 (held until the go-live) until about docs documents are due at
// go-live (each entry brings its client relationship's document).
func writeHeldBatch(t testing.TB, path string, docs int) {
	t.Helper()
	var all bytes.Buffer
	// About 40% of generated entries are final welfare officer entries.
	if _, err := gen.Write(&all, gen.Options{N: docs*2 + 100, Seed: 17,
		Start: time.Date(2025, 3, 1, 8, 0, 0, 0, time.FixedZone("EET", 2*3600))}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	sc := bufio.NewScanner(&all)
	sc.Buffer(nil, 4<<20)
	n := 0
	// A welfare officer entry is held as 1.6 documents on average (its
	// record entry and its client relationship's document, which entries
	// of one relationship share; some are skipped, their relationship
	// closed before the go-live): 91,428 held of 57,142 entries with this
	// seed. So docs*10/16 entries hold about docs documents.
	for sc.Scan() && n < docs*10/16 {
		var l struct {
			Status string `json:"status"`
			Author struct {
				Role string `json:"role"`
			} `json:"author"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if l.Author.Role != "school_welfare_officer" || l.Status != "final" {
			continue
		}
		w.Write(sc.Bytes())
		w.WriteByte('\n')
		n++
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// heldUntilGoLive ingests the spool with `once` on 31 August (every entry
// is held) and returns how many jobs wait for the go-live.
func heldUntilGoLive(t testing.TB, s *site) int {
	t.Helper()
	code, out := s.run([]string{"KANTA_GATEWAY_NOW=2026-08-31T12:00:00+03:00"}, "once", "--timeout", "60m")
	if code != 0 && code != 3 { // 3: some generated lines are rejections
		t.Fatalf("once exit %d: %s\n%s", code, out, tail(s.logs.String()))
	}
	// once's summary counts the queue's states ("queue: done D, scheduled
	// S, ..."); `queue ls` lists at most 10,000 jobs, fewer than a burst.
	m := regexp.MustCompile(`queue: done \d+, scheduled (\d+),`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("once printed no queue summary:\n%s", out)
	}
	held, _ := strconv.Atoi(m[1])
	if held <= 10000 {
		// and the jobs are really there, held (scheduled) for the go-live
		code, out = s.run(nil, "queue", "ls", "--json", "--state", "scheduled", "--limit", "10000")
		if code != 0 {
			t.Fatalf("queue ls exit %d: %s", code, out)
		}
		var listed []json.RawMessage
		if err := json.Unmarshal([]byte(out), &listed); err != nil {
			t.Fatal(err)
		}
		if len(listed) != held {
			t.Fatalf("once counted %d held documents, queue ls lists %d", held, len(listed))
		}
	}
	return held
}

// startAtGoLive starts the daemon with its clock `lead` before the go-live
// and returns the wall-clock instant the go-live falls on.
func startAtGoLive(t testing.TB, s *site, lead time.Duration, env ...string) (*daemonProc, time.Time) {
	t.Helper()
	env = append(env, "KANTA_GATEWAY_NOW="+goLive.Add(-lead).Format(time.RFC3339Nano))
	cmd, stop := s.daemon(env)
	// The daemon reads its clock a little after the start: its go-live is
	// at most that much later than this (first-submission times are
	// overstated by the process start-up, never understated).
	return &daemonProc{cmd: cmd, stop: stop}, time.Now().Add(lead)
}

type daemonProc struct {
	cmd  *exec.Cmd
	stop func() int
}

func (m *mock) accepted() int {
	var st struct {
		Accepted int `json:"accepted"`
	}
	m.get("/api/v1/stats", &st)
	return st.Accepted
}

// receipts are the mock's receipt times of its documents, in order.
func (m *mock) receipts() []time.Time {
	var out []time.Time
	for _, d := range m.documents() {
		out = append(out, d.ReceivedAt)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb
		}
	}
	return 0
}

func fileSize(paths ...string) int64 {
	var n int64
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			n += st.Size()
		}
	}
	return n
}

// BenchmarkGoLiveBurst holds KANTA_BURST_DOCS (default 100,000) school
// welfare officer documents until the go-live, starts the daemon 5 s
// before it on the gateway clock, and reports the time from go-live to the
// first submission at the mock, the drain rate, the daemon's peak RSS, the
// queue database's size, and the slowest answer of `queue ls` and
// /metrics taken during the burst. Ingestion (signing every document on
// 31 August) is outside the timed part.
//
//	go test ./e2e -run '^$' -bench GoLiveBurst -benchtime 1x -timeout 3h
func BenchmarkGoLiveBurst(b *testing.B) {
	docs := 100000
	if v := os.Getenv("KANTA_BURST_DOCS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 10 {
			b.Fatalf("KANTA_BURST_DOCS=%q: want a number >= 10", v)
		}
		docs = n
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		batch := filepath.Join(dir, "held.ndjson")
		writeHeldBatch(b, batch, docs)
		m := startMock(b, filepath.Join(dir, "mock"), "")
		s := newSite(b, m, "sqlite", "", "")
		s.copyToSpool(batch)
		held := heldUntilGoLive(b, s)
		if held < docs*8/10 || held > docs*12/10 {
			b.Fatalf("only %d documents held until the go-live, want about %d", held, docs)
		}
		db := filepath.Join(s.dir, "data", "gateway.db")
		if keep := os.Getenv("KANTA_BURST_KEEP_DB"); keep != "" {
			// The held queue, for timing report statements on it
			// (sqlite3 -readonly); the copy holds identity codes: 0600.
			keepHeldDatabase(b, db, keep)
		}
		metricsAddr := freePort(b)

		b.StartTimer()
		d, goLiveAt := startAtGoLive(b, s, 5*time.Second, "KANTA_GATEWAY_METRICS_LISTEN="+metricsAddr)
		var lsWorst, metricsWorst, consoleWorst time.Duration
		var consoleAnswers int
		var peakKB int64
		deadline := time.Now().Add(3 * time.Hour)
		for m.accepted() < held {
			if time.Now().After(deadline) {
				b.Fatalf("burst not drained: %d of %d\n%s", m.accepted(), held, tail(s.logs.String()))
			}
			if time.Now().After(goLiveAt) {
				start := time.Now()
				if code, out := s.run(nil, "queue", "ls"); code != 0 {
					b.Fatalf("queue ls during the burst: exit %d: %s", code, out)
				}
				lsWorst = max(lsWorst, time.Since(start))
				if took, ok := timedGET("http://" + metricsAddr + "/metrics"); ok {
					metricsWorst = max(metricsWorst, took)
				}
				// The console's pages an operator opens during the burst, and
				// River UI's job list (loopback, no users: read-only, no login).
				for _, page := range consolePages {
					if took, ok := timedGET("http://" + metricsAddr + page); ok {
						consoleWorst = max(consoleWorst, took)
						consoleAnswers++
					}
				}
			}
			peakKB = max(peakKB, vmHWM(d.cmd.Process.Pid))
			time.Sleep(time.Second)
		}
		// VmHWM before the stop: the daemon's own peak. Not rusage's
		// Maxrss, which on Linux also holds the peak of the memory the
		// child was forked from (exec records the old mm's high-water
		// mark, and Go forks with CLONE_VM): this test process's, with the
		// generated batch in it, was reported as the daemon's.
		peakKB = max(peakKB, vmHWM(d.cmd.Process.Pid))
		b.StopTimer()
		if consoleAnswers < len(consolePages) {
			b.Fatalf("the console answered 200 only %d times during the burst", consoleAnswers)
		}
		if code := d.stop(); code != 0 {
			b.Errorf("daemon exit %d after SIGINT", code)
		}
		var cpu time.Duration
		if ru, ok := d.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
		if peakKB == 0 {
			b.Fatal("the daemon's peak RSS was never read")
		}
		got := m.receipts()
		if len(got) < held {
			b.Fatalf("mock lists %d documents, %d were held", len(got), held)
		}
		first, last := got[0], got[len(got)-1]
		if first.Before(goLiveAt.Add(-time.Second)) {
			b.Fatalf("first document received at %s, before the go-live at %s", first, goLiveAt)
		}
		b.ReportMetric(float64(held), "docs")
		b.ReportMetric(first.Sub(goLiveAt).Seconds(), "s-to-first")
		b.ReportMetric(float64(len(got)-1)/last.Sub(first).Seconds(), "drain-docs/s")
		b.ReportMetric(last.Sub(goLiveAt).Seconds(), "s-to-drained")
		b.ReportMetric(float64(peakKB)/1024, "peak-RSS-MB")
		b.ReportMetric(float64(fileSize(db, db+"-wal"))/(1<<20), "queue-DB-MB")
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(held), "gateway-CPU-ms/doc")
		b.ReportMetric(lsWorst.Seconds(), "queue-ls-max-s")
		b.ReportMetric(metricsWorst.Seconds(), "metrics-max-s")
		b.ReportMetric(consoleWorst.Seconds(), "console-max-s")
	}
}

// keepHeldDatabase copies the queue database (and its WAL) as it stands
// before the go-live, with no process holding it, to path (and path-wal;
// an older path-wal is removed when there is none). It streams: the
// database is gigabytes.
func keepHeldDatabase(t testing.TB, db, path string) {
	t.Helper()
	for _, suffix := range []string{"", "-wal"} {
		src, err := os.Open(db + suffix)
		if errors.Is(err, fs.ErrNotExist) && suffix != "" {
			if err := os.Remove(path + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.OpenFile(path+suffix, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err == nil {
			_, err = io.Copy(dst, src)
			if cerr := dst.Close(); err == nil {
				err = cerr
			}
		}
		src.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// consolePages are the console pages the burst benchmark times: the
// overview, held documents, dead letters, and River UI's list of available
// jobs (what its queue view fetches).
var consolePages = []string{
	"/console/", "/console/held", "/console/dead",
	"/console/river/api/jobs?limit=20&state=available",
}

// timedGET fetches url whole and reports how long it took; ok is false
// when the answer was not 200 (the daemon may still be starting).
func timedGET(url string) (time.Duration, bool) {
	start := time.Now()
	resp, err := http.Get(url)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	_, _ = bytes.NewBuffer(nil).ReadFrom(resp.Body)
	return time.Since(start), resp.StatusCode == http.StatusOK
}

// With kanta.rate_limit set, a go-live burst reaches Kanta no faster than
// the limit: in every window of the mock's receipts, at most limit × window
// documents plus one (the limiter's single-request burst), with one more
// for the spread of the receipt times (the mock stamps a document after
// verifying it).
func TestRateLimitHoldsThroughGoLiveBurst(t *testing.T) {
	const limit = 5.0
	dir := t.TempDir()
	batch := filepath.Join(dir, "held.ndjson")
	writeHeldBatch(t, batch, 70)
	m := startMock(t, filepath.Join(dir, "mock"), "")
	s := newSite(t, m, "sqlite", "", "")
	s.copyToSpool(batch)
	held := heldUntilGoLive(t, s)
	if held < 50 {
		t.Fatalf("only %d documents held until the go-live", held)
	}
	d, goLiveAt := startAtGoLive(t, s, 2*time.Second,
		"KANTA_GATEWAY_KANTA_RATE_LIMIT="+strconv.FormatFloat(limit, 'f', -1, 64), "KANTA_GATEWAY_QUEUE_WORKERS=16")
	m.waitDocuments(held, 5*time.Minute)
	d.stop()
	got := m.receipts()
	if len(got) < held {
		t.Fatalf("mock has %d documents, %d were held\n%s", len(got), held, tail(s.logs.String()))
	}
	if got[0].Before(goLiveAt.Add(-time.Second)) {
		t.Fatalf("first document at %s, before the go-live %s", got[0], goLiveAt)
	}
	for _, window := range []time.Duration{time.Second, 3 * time.Second, 5 * time.Second} {
		allowed := int(limit*window.Seconds()) + 1 + 1
		for i := range got {
			n := sort.Search(len(got), func(j int) bool { return !got[j].Before(got[i].Add(window)) }) - i
			if n > allowed {
				t.Fatalf("%d documents reached the mock within %s from %s: limit %.0f/s allows %d",
					n, window, got[i].Format("15:04:05.000"), limit, allowed)
			}
		}
	}
	// And the burst did not crawl either: the limit, not the queue, paced it.
	if took := got[len(got)-1].Sub(got[0]); took > time.Duration(float64(held)/limit*2*float64(time.Second)) {
		t.Errorf("%d documents took %s at a limit of %.0f/s", held, took, limit)
	}
}
