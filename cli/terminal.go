package cli

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/helsinki-student-welfare/kanta-gateway/gateway"
	"github.com/helsinki-student-welfare/kanta-gateway/privatefs"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// On a terminal, demo and once talk to a person: one progress display
// across ingestion and delivery, every log line in a log file, only
// warnings and errors that are not about a single document on the screen,
// and a short report at the end. Without a terminal (a scheduler, a
// script, a pipe) nothing here runs and the output is what scripts parse.

// onTerminal: both the report (stdout) and the display (stderr) reach a
// person. A pipe on either side means a script is reading.
func (a *app) onTerminal() bool { return isTerminal(a.out) && isTerminal(a.errOut) }

// rejectionsShown is how many rejected lines the report names; the rest
// are in the quarantine.
const rejectionsShown = 5

// sameWarningShown is how many screen lines one kind of warning gets
// (unconfirmed codes come a dozen at a time); the rest are counted and are
// in the log file.
const sameWarningShown = 3

// terminalSession is a person's run of demo or once.
type terminalSession struct {
	logPath string
	logFile *os.File
	screen  *screenState
	start   time.Time
}

// startTerminal opens the log file (0600, appended) and sends the app's
// log there; the screen gets warnings and errors not about one document.
func (a *app) startTerminal(logPath string) (*terminalSession, error) {
	abs, err := filepath.Abs(logPath)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), privatefs.DirMode); err != nil {
		return nil, fmt.Errorf("log file %s: %w", abs, err)
	}
	f, err := os.OpenFile(abs, os.O_CREATE|os.O_WRONLY|os.O_APPEND, privatefs.FileMode)
	if err != nil {
		return nil, fmt.Errorf("log file %s: %w", abs, err)
	}
	// Entry ids are in it: private like the rest of the gateway's data.
	if err := privatefs.File(abs, nil); err != nil {
		f.Close()
		return nil, err
	}
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(a.cfg.Log.Level))
	st := &screenState{sink: a.errOut, stderr: a.errOut, seen: map[string]int{}}
	screen := &screenHandler{st: st, text: slog.NewTextHandler(screenWriter{st}, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(groups []string, at slog.Attr) slog.Attr {
			if len(groups) == 0 && at.Key == slog.TimeKey {
				return slog.Attr{} // the screen is now; the file keeps the time
			}
			return at
		},
	})}
	a.logger = slog.New(slog.NewMultiHandler(slog.NewJSONHandler(f, &slog.HandlerOptions{Level: lv}), screen))
	fmt.Fprintf(a.out, "log: %s (errors, and warnings not about a single document, are shown here)\n", abs)
	return &terminalSession{logPath: abs, logFile: f, screen: st, start: time.Now()}, nil
}

func (t *terminalSession) close() error { return t.logFile.Close() }

// screenState is shared by a screen handler and its With* copies.
type screenState struct {
	mu         sync.Mutex
	sink       io.Writer // the progress display while it runs (lines above the bars), else stderr
	stderr     io.Writer
	seen       map[string]int // screen lines per message
	suppressed int            // repeated warnings not shown
	perDoc     int            // warnings about single documents, in the log file only
}

type screenWriter struct{ st *screenState }

// Write is called with st.mu held (screenHandler.Handle).
// A display that just stopped refuses writes: they go to stderr.
func (w screenWriter) Write(p []byte) (int, error) {
	n, err := w.st.sink.Write(p)
	if err != nil && w.st.sink != w.st.stderr {
		return w.st.stderr.Write(p)
	}
	return n, err
}

func (s *screenState) setSink(w io.Writer) {
	s.mu.Lock()
	s.sink = w
	s.mu.Unlock()
}

// screenHandler shows warnings and errors, except warnings about one
// document (an entry id, document id or revision among the attributes):
// those are per-document lines, a batch has hundreds of them, and the
// report sums them up. An error is shown even about one document (a
// rejected line not quarantined): it is rare and needs the operator.
type screenHandler struct {
	st     *screenState
	text   slog.Handler
	perDoc bool // the logger carries a document's attributes
}

// perDocumentKeys mark a line as about a single document.
var perDocumentKeys = map[string]bool{"entry_id": true, "document_id": true, "revision": true}

func (h *screenHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *screenHandler) Handle(ctx context.Context, r slog.Record) error {
	perDoc := h.perDoc
	r.Attrs(func(at slog.Attr) bool {
		if perDocumentKeys[at.Key] {
			perDoc = true
		}
		return !perDoc
	})
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	if perDoc && r.Level < slog.LevelError {
		h.st.perDoc++
		return nil
	}
	h.st.seen[r.Message]++
	if h.st.seen[r.Message] > sameWarningShown {
		h.st.suppressed++
		return nil
	}
	return h.text.Handle(ctx, r)
}

func (h *screenHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.text = h.text.WithAttrs(as)
	for _, at := range as {
		if perDocumentKeys[at.Key] {
			c.perDoc = true
		}
	}
	return &c
}

func (h *screenHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.text = h.text.WithGroup(name)
	return &c
}

// progressDisplay is the one display of a run: lines read from the spool
// and documents delivered (or dead-lettered), refreshed from the same
// counters /metrics serves and from the queue.
type progressDisplay struct {
	p             *mpb.Progress
	read, deliver *mpb.Bar
	done          chan struct{}
	finished      chan struct{}
	update        func()
	screen        *screenState
	errOut        io.Writer
}

// startDisplay starts the progress display of a run on a terminal
// (gateway.Progress: once calls it back as the run goes).
func (a *app) startDisplay(ctx context.Context, svc *gateway.Service) *progressDisplay {
	base, _ := svc.Queue.Stats(ctx)
	lines := spoolLines(a.cfg.Spool.Dir)
	p := mpb.NewWithContext(ctx, mpb.WithOutput(a.errOut), mpb.WithWidth(40), mpb.WithRefreshRate(200*time.Millisecond))
	d := &progressDisplay{p: p, done: make(chan struct{}), finished: make(chan struct{}), screen: a.term.screen, errOut: a.errOut}
	var mu sync.Mutex
	var queued, rejected, retrying, dead int
	// Both bars are made without a total, so neither completes by itself
	// (delivery may catch up with reading for a while); stop completes them.
	d.read = p.AddBar(0,
		mpb.PrependDecorators(decor.Name("reading   ", decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d lines", decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			mu.Lock()
			defer mu.Unlock()
			return fmt.Sprintf("%d documents queued, %d lines rejected", queued, rejected)
		})),
	)
	d.read.SetTotal(int64(lines), false)
	d.deliver = p.AddBar(0,
		mpb.PrependDecorators(decor.Name("delivering", decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d documents", decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			mu.Lock()
			defer mu.Unlock()
			return fmt.Sprintf("%d waiting for a retry, %d dead letters", retrying, dead)
		})),
	)
	d.update = func() {
		read, built, rej := ingestionCounts(svc)
		st, err := svc.Queue.Stats(ctx)
		mu.Lock()
		queued, rejected = built, rej
		if err == nil {
			retrying, dead = st.Depth[queue.StateRetryable], st.Dead-base.Dead
		}
		mu.Unlock()
		if !d.read.Completed() {
			if read > lines { // a batch arrived after the count
				d.read.SetTotal(int64(read), false)
			}
			d.read.SetCurrent(int64(read))
		}
		if err == nil {
			finished := max(0, st.Depth[queue.StateDone]-base.Depth[queue.StateDone]) + max(0, st.Dead-base.Dead)
			pending := st.Depth[queue.StateAvailable] + st.Depth[queue.StateRunning] + st.Depth[queue.StateRetryable]
			d.deliver.SetTotal(int64(finished+pending), false)
			d.deliver.SetCurrent(int64(finished))
		}
	}
	// Warnings appear above the bars while they run.
	d.screen.setSink(p)
	go func() {
		defer close(d.finished)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-d.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				d.update()
			}
		}
	}()
	return d
}

// Ingested marks the spool read to its end: every line of the pass,
// including revisions read before (not counted by the metrics the bar
// follows while it runs).
func (d *progressDisplay) Ingested(pass *gateway.SpoolPass) {
	d.update()
	lines := 0
	if pass != nil {
		for _, b := range pass.Batches {
			lines += b.Lines
		}
	}
	if int64(lines) > d.read.Current() {
		d.read.SetCurrent(int64(lines))
	}
	d.read.SetTotal(-1, true)
}

// Stop draws the final state and leaves it on the screen.
func (d *progressDisplay) Stop() {
	close(d.done)
	<-d.finished
	d.update()
	d.read.SetTotal(-1, true)
	d.deliver.SetTotal(-1, true)
	d.p.Wait()
	d.screen.setSink(d.errOut)
}

// ingestionCounts reads what the ingester counted so far from the
// metrics registry: lines read (every policy outcome), documents built,
// lines rejected.
func ingestionCounts(svc *gateway.Service) (read, built, rejected int) {
	mfs, err := svc.Metrics.Registry.Gather()
	if err != nil {
		return 0, 0, 0
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			v := int(m.GetCounter().GetValue())
			switch mf.GetName() {
			case "kanta_gateway_entries_read_total":
				read += v
				for _, l := range m.GetLabel() {
					if l.GetName() == "outcome" && l.GetValue() == "reject" {
						rejected += v
					}
				}
			case "kanta_gateway_documents_built_total":
				built += v
			}
		}
	}
	return read, built, rejected
}

// spoolLines counts the lines of the batches waiting in the spool, the
// reading bar's total (0: unknown, the bar counts without one).
func spoolLines(dir string) int {
	batches, _, err := gateway.SpoolBatches(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, b := range batches {
		n += countLines(b)
	}
	return n
}

func countLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return 0
		}
		defer zr.Close()
		r = zr
	}
	n, last := 0, byte('\n')
	buf := make([]byte, 64<<10)
	for {
		k, err := r.Read(buf)
		for _, c := range buf[:k] {
			if c == '\n' {
				n++
			}
		}
		if k > 0 {
			last = buf[k-1]
		}
		if err != nil {
			break
		}
	}
	if last != '\n' {
		n++
	}
	return n
}

// quarantinedLine is one line of a quarantine's .reasons.jsonl.
type quarantinedLine struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// reportRejections names the first rejected lines of this run with file,
// line and reason, and where all of them are.
func (t *terminalSession) reportRejections(w io.Writer, quarantineDir string) {
	files, _ := filepath.Glob(filepath.Join(quarantineDir, "*.reasons.jsonl"))
	var lines []quarantinedLine
	for _, f := range files {
		if info, err := os.Stat(f); err != nil || info.ModTime().Before(t.start.Add(-time.Second)) {
			continue // an earlier run's
		}
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var q quarantinedLine
			if json.Unmarshal(sc.Bytes(), &q) == nil {
				lines = append(lines, q)
			}
		}
		fh.Close()
	}
	if len(lines) == 0 {
		return
	}
	sort.SliceStable(lines, func(i, j int) bool {
		if lines[i].File != lines[j].File {
			return lines[i].File < lines[j].File
		}
		return lines[i].Line < lines[j].Line
	})
	shown := min(len(lines), rejectionsShown)
	fmt.Fprintf(w, "\nrejected lines: %d (the first %d; all of them, with their reasons, in %s):\n", len(lines), shown, quarantineDir)
	for _, q := range lines[:shown] {
		fmt.Fprintf(w, "  %s:%d  %s\n", filepath.Base(q.File), q.Line, q.Reason)
	}
}

// reportLog says what the log file holds beyond the screen.
func (t *terminalSession) reportLog(w io.Writer) {
	t.screen.mu.Lock()
	perDoc, suppressed := t.screen.perDoc, t.screen.suppressed
	t.screen.mu.Unlock()
	fmt.Fprintf(w, "\nlog: %s", t.logPath)
	if perDoc > 0 || suppressed > 0 {
		fmt.Fprintf(w, " (also %d warnings about single documents and %d repeated warnings not shown here)", perDoc, suppressed)
	}
	fmt.Fprintln(w)
}
