package gateway

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// hostileExpectation is one row of fixtures/hostile/catalogue.expect.tsv.
type hostileExpectation struct {
	line           int
	decision       string // an Outcome, or "already_read"
	field          string // "" for "(line)" and decisions
	reason         string // substring; "" for any
	needs, comment string // needs: the contract change a line tests (documentation)
}

func readHostileExpectations(t *testing.T) []hostileExpectation {
	t.Helper()
	f, err := os.Open("../fixtures/hostile/catalogue.expect.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []hostileExpectation
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sc.Text() == "" || strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 6 {
			t.Fatalf("catalogue.expect.tsv: %q has %d columns, want 6", sc.Text(), len(c))
		}
		n, err := strconv.Atoi(c[0])
		if err != nil {
			t.Fatal(err)
		}
		x := hostileExpectation{line: n, decision: c[1], field: c[2], reason: c[3], needs: c[4], comment: c[5]}
		if x.field == "(line)" || x.field == "-" {
			x.field = ""
		}
		if x.reason == "*" || x.reason == "-" {
			x.reason = ""
		}
		out = append(out, x)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// catalogueSecrets are the identity codes, names and entry texts of
// fixtures/hostile/make_catalogue.py: none may reach a log line.
var catalogueSecrets = []string{
	"150315A914E", "010114A921S", "150315A914F", "150315A123X", "150315X914E", "150315a914e", "290215A950X", "010180-123A", "150315914",
	"Hannele", "Vihamielinen", "Salli", "Salaisen", "Toinen", "Lapsi",
	"Luottamuksellinen", "kertomus", "kerto", "Pitkä", "Psykologin käynti", "Otsikko", "alert(1)", "DOCTYPE", "Väärä asiakas",
}

// The hostile-input catalogue (fixtures/hostile) through the gateway's
// ingestion: every line gets the outcome catalogue.expect.tsv states (a
// rejection quarantined with file, line, field and reason; or the decision
// recorded in the ledger or audit trail; or nothing for a repeat), nothing
// hangs or panics, every accepted entry is filed under the identity code its
// own "client" names, and no identity code, name or entry text, and no raw
// control character, reaches a log line.
func TestHostileCatalogue(t *testing.T) {
	want := readHostileExpectations(t)
	if len(want) < 80 {
		t.Fatalf("catalogue has %d lines, want at least 80", len(want))
	}

	ctx := context.Background()
	dir := t.TempDir()
	cfg, b, q := ingestSetup(t, dir)
	rq := newRecordingQueue(q)
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	in := NewIngester(cfg, b, rq, clock.NewManual(testNow), log, Hooks{})

	type result struct {
		sum *BatchSummary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := in.IngestFile(ctx, "../fixtures/hostile/catalogue.ndjson")
		done <- result{sum, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("ingestion of the hostile catalogue did not finish in 2 minutes")
	}
	if res.err != nil {
		t.Fatalf("ingestion stopped: %v", res.err)
	}
	quar := quarantined(t, cfg.Spool.QuarantineDir)

	for _, x := range want {
		k := lineKey("catalogue.ndjson", x.line)
		led, inLedger := rq.ingested[k]
		ev, inAudit := rq.events[k]
		qr, inQuarantine := quar[k]
		var problems []string
		switch x.decision {
		case "already_read":
			if inLedger || inAudit || inQuarantine {
				problems = append(problems, fmt.Sprintf("recorded (ledger %v, audit %v, quarantine %v), want nothing", inLedger, inAudit, inQuarantine))
			}
		case string(documents.OutcomeReject):
			switch {
			case !inQuarantine:
				got := "nothing"
				if inLedger {
					got = string(led.Outcome)
				} else if inAudit {
					got = string(ev.Outcome)
				}
				problems = append(problems, "not quarantined (decision "+got+")")
			case qr.Field != x.field || !strings.Contains(qr.Reason, x.reason) || !strings.HasSuffix(qr.File, "catalogue.ndjson") || qr.Line != x.line:
				problems = append(problems, fmt.Sprintf("quarantined %s:%d field %q reason %q, want field %q reason containing %q", qr.File, qr.Line, qr.Field, qr.Reason, x.field, x.reason))
			}
			if inLedger {
				problems = append(problems, "rejected line in the ledger as "+string(led.Outcome))
			}
		default:
			rec, ok := led, inLedger
			if !ok {
				rec, ok = ev, inAudit
			}
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("not recorded (quarantined %v: %s %s)", inQuarantine, qr.Field, qr.Reason))
			case string(rec.Outcome) != x.decision || string(rec.ReasonClass) != x.reason:
				problems = append(problems, fmt.Sprintf("recorded %s (%s), want %s (%s)", rec.Outcome, rec.ReasonClass, x.decision, x.reason))
			case inQuarantine:
				problems = append(problems, "also quarantined")
			}
			// Nothing misattributed: every accepted line names the one
			// client of make_catalogue.py's base entry.
			if ok && rec.Hetu != "150315A914E" {
				problems = append(problems, "filed under another identity code")
			}
		}
		if len(problems) == 0 {
			continue
		}
		t.Errorf("line %d (%s): %s", x.line, x.comment, strings.Join(problems, "; "))
	}

	// The rest of the batch goes through: every valid line is queued.
	var good int
	for k, r := range rq.ingested {
		if strings.HasPrefix(r.EntryID, "H-GOOD-") && r.Outcome == documents.OutcomeSubmit {
			good++
		} else if strings.HasPrefix(r.EntryID, "H-GOOD-") {
			t.Errorf("%s: valid entry %s recorded %s", k, r.EntryID, r.Outcome)
		}
	}
	valid := 0
	for _, x := range want {
		if x.comment == "valid entry" {
			valid++
		}
	}
	if valid < 10 || good != valid {
		t.Errorf("%d valid entries submitted, want all %d", good, valid)
	}
	if res.sum.Lines < len(want) {
		t.Errorf("summary: %d lines read, want %d", res.sum.Lines, len(want))
	}
	jobs, err := q.Jobs(ctx, queue.JobFilter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) < good {
		t.Errorf("%d jobs queued for %d valid entries", len(jobs), good)
	}

	text := logs.String()
	scanLogLines(t, text, catalogueSecrets)
}

// scanLogLines fails for personal data in the logs, for raw control
// characters (terminal escapes, NUL, BEL), and for a line that is not a log
// record (a newline smuggled into a value would start one).
func scanLogLines(t *testing.T, logs string, secrets []string) {
	t.Helper()
	if logs == "" {
		t.Fatal("no logs to scan")
	}
	for _, s := range secrets {
		if i := strings.Index(logs, s); i >= 0 {
			t.Errorf("logs contain personal data %q near: %q", s, logs[max(0, i-120):min(len(logs), i+40)])
		}
	}
	for i, l := range strings.Split(strings.TrimSuffix(logs, "\n"), "\n") {
		if !strings.HasPrefix(l, "time=") {
			t.Errorf("log line %d is not a log record: %q", i+1, l)
		}
		for _, r := range l {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u202e' {
				t.Errorf("log line %d holds a raw control character %U: %q", i+1, r, l)
				break
			}
		}
	}
}
