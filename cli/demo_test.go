//go:build !kanta_production

package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/creack/pty"
)

// TestDemoOnTerminal runs demo under a pseudo-terminal and reads the
// screen as a person would see it: one progress display (drawn while the
// run goes, not only at its end), warnings but no per-document log lines,
// and the report: what went where, the first rejections with file:line
// and reason, the mock's counts as a table, the log file. The log file
// holds the per-document lines, readable by its owner only; no identity
// code or name is on the screen.
func TestDemoOnTerminal(t *testing.T) {
	dir := t.TempDir()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 50, Cols: 140}); err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _, _ = io.Copy(&raw, ptmx) }() // ends with EIO once tty is closed

	code := Main([]string{"demo", "--dir", dir, "--n", "40"}, strings.NewReader(""), tty, tty)
	tty.Close()
	wg.Wait()
	out := raw.String()
	screen := renderScreen(out)
	text := strings.Join(screen, "\n")
	t.Logf("the screen (%d lines):\n%s", len(screen), text)
	if code != ExitOK {
		t.Fatalf("demo exit %d", code)
	}

	// The display was redrawn in place while the run went on.
	if n := strings.Count(out, "A\x1b[J"); n < 2 {
		t.Errorf("progress display redrawn %d times: want a live display", n)
	}
	for _, re := range []string{`reading\s+(\d+)/(\d+) lines`, `delivering\s+(\d+)/(\d+) documents`} {
		m := regexp.MustCompile(re).FindStringSubmatch(text)
		if m == nil {
			t.Errorf("no progress line %s on the screen", re)
			continue
		}
		if n, _ := strconv.Atoi(m[1]); m[1] != m[2] || n == 0 {
			t.Errorf("progress ends at %s/%s, want complete", m[1], m[2])
		}
	}
	if strings.Count(text, "reading ") != 1 || strings.Count(text, "delivering ") != 1 {
		t.Errorf("want one progress display (one reading and one delivering line)")
	}
	logPath := filepath.Join(dir, "gateway.log")
	for _, want := range []string{
		"log: " + logPath,
		"what went where:",
		"delivered (acknowledged)",
		"rejected lines: 6 (the first 5; all of them, with their reasons, in " + filepath.Join(dir, "spool", "quarantine"),
		"psychologist.ndjson:10  restrictions.mykanta.reason_code is required when display is delayed",
		"mock Kanta's own count (GET /api/v1/stats):",
		"FORMAT  ACCEPTED  DUPLICATES  REJECTED  ERRORS",
		"level=WARN msg=\"unconfirmed code in use",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^\s+cda\s+\d+\s+0\s+0\s+0$`).MatchString(text) {
		t.Errorf("mock count table has no cda row")
	}
	// Per-document lines stay in the log file; repeated warnings are cut.
	for _, never := range []string{"entry_id", "document_id", "msg=submission", "entry rejected", `"level"`} {
		if strings.Contains(text, never) {
			t.Errorf("screen shows a log line about a single document (%q)", never)
		}
	}
	if n := strings.Count(text, "unconfirmed code in use"); n > sameWarningShown {
		t.Errorf("%d unconfirmed-code warnings on the screen, want at most %d", n, sameWarningShown)
	}
	// A person sees a page, not a scroll of log lines: the rows the
	// terminal draws, long lines wrapped at its 140 columns.
	rows := 0
	for _, l := range screen {
		rows += max(1, (utf8.RuneCountInString(l)+139)/140)
	}
	if rows > 45 {
		t.Errorf("the screen is %d rows long, want at most 45", rows)
	}

	info, err := os.Stat(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %#o, want 0600", info.Mode().Perm())
	}
	logText, _ := os.ReadFile(logPath)
	var submissions, rejections int
	sc := bufio.NewScanner(bytes.NewReader(logText))
	for sc.Scan() {
		var l struct {
			Msg     string `json:"msg"`
			EntryID string `json:"entry_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log file line %q: %v", sc.Text(), err)
		}
		switch {
		case l.Msg == "submission" && l.EntryID != "":
			submissions++
		case l.Msg == "entry rejected" && l.EntryID != "":
			rejections++
		}
	}
	if submissions == 0 || rejections != 6 {
		t.Errorf("log file: %d submission lines, %d rejection lines; want some and 6", submissions, rejections)
	}

	secrets := spoolPersonalData(t, filepath.Join(dir, "spool", "done"), filepath.Join(dir, "spool", "quarantine"))
	if len(secrets) < 20 {
		t.Fatalf("found %d identity codes and names in the demo's batches, want many", len(secrets))
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the screen shows personal data %q", s)
		}
	}
}

// TestDemoWithoutTerminal: without a terminal the output is what scripts
// read today: the summary and the mock's count as JSON on stdout, the log
// as JSON lines on stderr, no progress display and no log file.
func TestDemoWithoutTerminal(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := Main([]string{"demo", "--dir", dir, "--n", "20"}, strings.NewReader(""), &out, &errOut); code != ExitOK {
		t.Fatalf("demo exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	stdout := out.String()
	for _, want := range []string{"\nonce: 3 batches, 56 lines: ", "\nwhat went where:\n", "\nmock Kanta's own count (GET /api/v1/stats): {\"accepted\":", "\nrejected lines and their reasons: " + filepath.Join(dir, "spool", "quarantine") + "\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	for _, never := range []string{"\x1b[", "\r", "reading ", "delivering ", "log: ", "FORMAT"} {
		if strings.Contains(stdout, never) || strings.Contains(errOut.String(), never) {
			t.Errorf("output without a terminal holds %q", never)
		}
	}
	perDoc := 0
	sc := bufio.NewScanner(&errOut)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("stderr line %q is not a JSON log line: %v", sc.Text(), err)
		}
		if _, ok := l["entry_id"]; ok {
			perDoc++
		}
	}
	if perDoc == 0 {
		t.Errorf("no per-document log lines on stderr: the log is for scripts as before")
	}
	if _, err := os.Stat(filepath.Join(dir, "gateway.log")); err == nil {
		t.Errorf("a log file was written without a terminal")
	}
}

// renderScreen replays a terminal's output the way the terminal draws it:
// carriage returns, new lines, the progress library's cursor-up and
// erase-below, and an erase-line; colours and other sequences are dropped.
// It returns the screen's lines, trailing blank lines cut.
func renderScreen(out string) []string {
	rows := [][]rune{{}}
	r, c := 0, 0
	esc := regexp.MustCompile(`^\x1b\[([0-9;?]*)([A-Za-z])`)
	for i := 0; i < len(out); {
		if out[i] == 0x1b {
			m := esc.FindStringSubmatch(out[i:])
			if m == nil {
				i++
				continue
			}
			n, _ := strconv.Atoi(m[1])
			switch m[2] {
			case "A":
				r = max(0, r-max(n, 1))
			case "J":
				rows = rows[:r+1]
				rows[r] = rows[r][:min(c, len(rows[r]))]
			case "K":
				rows[r] = rows[r][:min(c, len(rows[r]))]
			}
			i += len(m[0])
			continue
		}
		ch, size := utf8.DecodeRuneInString(out[i:])
		i += size
		switch ch {
		case '\r':
			c = 0
		case '\n':
			r++
			for len(rows) <= r {
				rows = append(rows, []rune{})
			}
		default:
			for len(rows[r]) < c {
				rows[r] = append(rows[r], ' ')
			}
			if c < len(rows[r]) {
				rows[r][c] = ch
			} else {
				rows[r] = append(rows[r], ch)
			}
			c++
		}
	}
	lines := make([]string, len(rows))
	for i, row := range rows {
		lines[i] = strings.TrimRight(string(row), " ")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// spoolPersonalData lists the identity codes and names in the batches
// (and quarantined lines) under dirs.
func spoolPersonalData(t *testing.T, dirs ...string) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join(d, "*.ndjson"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range bytes.Split(b, []byte("\n")) {
				var e struct {
					Client struct{ Hetu, Given, Family string }
					Author struct{ Given, Family string }
				}
				if json.Unmarshal(line, &e) != nil {
					continue
				}
				for _, v := range []string{e.Client.Hetu, e.Client.Given, e.Client.Family, e.Author.Given, e.Author.Family} {
					if len(v) >= 4 && !seen[v] {
						seen[v] = true
						out = append(out, v)
					}
				}
			}
		}
	}
	return out
}
