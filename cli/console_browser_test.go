package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/pki"
	"github.com/helsinki-student-welfare/kanta-gateway/mockkanta"
)

// consoleSite is a running daemon with its console, delivering the
// scenario batches to an in-process mock Kanta over mutual TLS.
type consoleSite struct {
	base string // the operations listener, http://host:port
	mock *mockkanta.Server
}

const (
	consoleOperator, consoleOperatorPassword = "alice", "correct horse battery staple"
	consoleReader, consoleReaderPassword     = "bob", "read only please"
)

// startConsoleSite starts the daemon as of 2026-08-31 (the welfare
// officer entries are held until 2026-09-01) against a mock answering
// every archive request with 503: with queue.max_attempts 2 and no retry
// age, the psychologist documents are dead-lettered after two attempts.
func startConsoleSite(t *testing.T) *consoleSite {
	t.Helper()
	dir := t.TempDir()
	now := time.Date(2026, 8, 31, 12, 0, 0, 0, time.FixedZone("EEST", 3*3600))
	clk := clock.NewOffset(now)
	cfg := config.Default()
	o := &cfg.Organisations[0]
	custodian, _ := o.Custodian()
	// Certificates valid at the pretended time and now.
	paths, err := pki.Generate(filepath.Join(dir, "pki"), []pki.Organiser{{OID: o.OID, Name: o.Name, CustodianOID: custodian}}, "pw", now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	mock, err := mockkanta.New(mockkanta.Config{
		TrustRootFiles: []string{paths.CACert}, TLSCertFile: paths.ServerCert, TLSKeyFile: paths.ServerKey, ClientCAFile: paths.CACert,
		// The mock receives at the real time: the gateway signs at the
		// real time too (only its policy runs on the pretended clock).
		Clock: clock.System{}, Faults: mockkanta.Faults{ErrorRate: 1, ErrorStatus: 503},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mock.Close() })
	tlsCfg, err := mock.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	msrv := &http.Server{Handler: mock.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = msrv.Serve(tls.NewListener(mln, tlsCfg)) }()
	t.Cleanup(func() { msrv.Close() })
	mockURL := "https://" + mln.Addr().String()

	spool := filepath.Join(dir, "spool")
	if err := os.MkdirAll(spool, 0o700); err != nil {
		t.Fatal(err)
	}
	scen, _ := fs.Glob(fixtures.Scenarios, "scenarios/*.ndjson")
	for _, s := range scen {
		b, _ := fs.ReadFile(fixtures.Scenarios, s)
		if err := os.WriteFile(filepath.Join(spool, filepath.Base(s)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	o.PKCS12, o.PKCS12Password = paths.Signing[o.OID].P12, "pw"
	cfg.Spool.Dir, cfg.Spool.QuarantineDir, cfg.Spool.DoneDir = spool, filepath.Join(dir, "quarantine"), filepath.Join(dir, "done")
	cfg.Spool.PollInterval = 200 * time.Millisecond
	cfg.Queue.SQLitePath = filepath.Join(dir, "data", "gateway.db")
	cfg.Queue.RetryBase, cfg.Queue.RetryCap, cfg.Queue.MaxAttempts, cfg.Queue.MaxRetryAge = 50*time.Millisecond, 200*time.Millisecond, 2, 0
	cfg.Kanta.MaxUnreadableAnswers = 1
	cfg.Kanta.BreakerFailures = 1000 // the breaker would hold the attempts back (no dead letters)
	cfg.Kanta.ArchiveURL, cfg.Kanta.FHIRURL = mockURL+"/archive/v1/messages", mockURL+"/fhir/r4/Bundle"
	cfg.Kanta.ClientCert, cfg.Kanta.ClientKey, cfg.Kanta.CACert = paths.ClientCert, paths.ClientKey, paths.CACert
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Metrics.Listen = ln.Addr().String()
	ln.Close()
	for _, u := range []struct{ name, role, pw string }{{consoleOperator, config.RoleOperator, consoleOperatorPassword}, {consoleReader, config.RoleReadOnly, consoleReaderPassword}} {
		h, err := bcrypt.GenerateFromPassword([]byte(u.pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Metrics.Console.Users = append(cfg.Metrics.Console.Users, config.ConsoleUser{Name: u.name, Role: u.role, PasswordBcrypt: string(h)})
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	a := &app{cfg: &cfg, clock: clk, logger: slog.New(slog.NewTextHandler(io.Discard, nil)), out: &out, errOut: &out}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.daemon(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Errorf("daemon did not stop within 60s of its context ending")
		}
	})
	s := &consoleSite{base: "http://" + cfg.Metrics.Listen, mock: mock}
	waitUntil(t, 60*time.Second, "the daemon to be ready", func() bool {
		resp, err := http.Get(s.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return s
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// get fetches a console page with basic auth.
func (s *consoleSite) get(t *testing.T, path, user, pw string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.base+path, nil)
	req.SetBasicAuth(user, pw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// artifactsDir is where screenshots go: $KANTA_TEST_ARTIFACTS (kept) or
// the test's temporary directory.
func artifactsDir(t *testing.T) string {
	if d := os.Getenv("KANTA_TEST_ARTIFACTS"); d != "" {
		d = filepath.Join(d, t.Name())
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// findChromium finds Debian's chromium; the test fails (never skips)
// without it: scripts/test.sh installs it.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: the console's browser test needs Debian's chromium (scripts/test.sh installs it: apt-get install chromium)")
	return ""
}

// A person logs in to the console with headless Chromium, finds a dead
// letter the mock's faults made, retries it and sees it delivered; the
// main pages are screenshotted into the test output.
func TestConsoleInBrowser(t *testing.T) {
	chromium := findChromium(t)
	s := startConsoleSite(t)
	// The mock's faults dead-letter the psychologist documents.
	waitUntil(t, 120*time.Second, "a dead letter", func() bool {
		_, body := s.get(t, "/console/dead", consoleOperator, consoleOperatorPassword)
		return strings.Contains(body, `class="retry"`)
	})
	if err := s.mock.SetFaults(mockkanta.Faults{}); err != nil { // Kanta recovers
		t.Fatal(err)
	}
	shots := artifactsDir(t)

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1366, 900),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	bctx, cancelTimeout := context.WithTimeout(bctx, 4*time.Minute)
	defer cancelTimeout()

	// shoot writes a full-page PNG of what the browser shows.
	shoot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		p := filepath.Join(shots, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s", p)
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	// Log in: the console sends the browser to its login page.
	do("open the console", chromedp.Navigate(s.base+"/console/"), chromedp.WaitVisible(chromedp.ID("login")))
	shoot("01-login")
	do("log in",
		chromedp.SendKeys(chromedp.ID("user"), consoleOperator),
		chromedp.SendKeys(chromedp.ID("password"), consoleOperatorPassword),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("breaker")),
	)
	if who := text("header .who"); !strings.Contains(who, "alice (operator)") {
		t.Fatalf("logged in as %q", who)
	}
	shoot("02-overview")

	// The 2026-09-01 backlog, and the last batches with their rejections.
	do("held page", chromedp.Navigate(s.base+"/console/held"), chromedp.WaitVisible(chromedp.ID("held")))
	held := text("#held")
	shoot("03-held")
	if !strings.Contains(held, "social") || !strings.Contains(held, "2026-09-01") || !strings.Contains(held, "go-live") {
		t.Errorf("held page does not show the 2026-09-01 social welfare backlog:\n%s", held)
	}
	do("batches page", chromedp.Navigate(s.base+"/console/batches"), chromedp.WaitVisible(chromedp.ID("batches")))
	batches := text("main")
	shoot("04-batches")
	if !strings.Contains(batches, "psychologist.ndjson") || !strings.Contains(batches, "welfare-officer.ndjson") {
		t.Errorf("batches page:\n%s", batches)
	}

	// The dead letter: Kanta's answer (the mock's 503 fault answers CE
	// SERVICE_UNAVAILABLE) and a retry.
	do("dead letters page", chromedp.Navigate(s.base+"/console/dead"), chromedp.WaitVisible(chromedp.ID("dead")))
	dead := text("#dead")
	shoot("05-dead-letters")
	if !strings.Contains(dead, "SCN-PSY") || !strings.Contains(dead, "CE SERVICE_UNAVAILABLE") {
		t.Errorf("dead letters page does not show the dead psychologist documents and Kanta's answer:\n%s", dead)
	}
	buttonID, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector("button.retry").id`))
	if err != nil {
		t.Fatal(err)
	}
	jobID := strings.TrimPrefix(buttonID, "retry-")
	do("retry", chromedp.Click(chromedp.ID(buttonID)), chromedp.WaitVisible(chromedp.ID("notice")))
	if notice := text("#notice"); !strings.Contains(notice, "job "+jobID+" retried by alice") {
		t.Errorf("notice after retry: %q", notice)
	}
	// Delivered: the job page, reloaded, says so.
	state := ""
	deadline := time.Now().Add(90 * time.Second)
	for state != "delivered" {
		if time.Now().After(deadline) {
			t.Fatalf("job %s not delivered after the retry (delivery %q)", jobID, state)
		}
		time.Sleep(300 * time.Millisecond)
		do("job page", chromedp.Navigate(s.base+"/console/jobs/"+jobID), chromedp.WaitVisible(chromedp.ID("job")))
		state = text("#delivery-state")
	}
	shoot("06-job-delivered")
	do("overview", chromedp.Navigate(s.base+"/console/"), chromedp.WaitVisible(chromedp.ID("actions")))
	if actions := text("#actions"); !strings.Contains(actions, "console:alice") || !strings.Contains(actions, "operator_retry") {
		t.Errorf("overview does not show the audited retry:\n%s", actions)
	}

	// River UI, under the console: it draws the deliveries.
	do("River UI", chromedp.Navigate(s.base+"/console/river/jobs?state=completed"))
	river := ""
	deadline = time.Now().Add(60 * time.Second)
	for !strings.Contains(river, "kanta_delivery") {
		if time.Now().After(deadline) {
			t.Fatalf("River UI did not show the deliveries:\n%s", river)
		}
		time.Sleep(300 * time.Millisecond)
		river = text("body")
	}
	shoot("07-river-ui")

	// A read-only user logs in and is refused the retry.
	code, body := s.get(t, "/console/dead", consoleReader, consoleReaderPassword)
	if code != http.StatusOK || strings.Contains(body, `class="retry"`) {
		t.Errorf("read-only user's dead letters page: %d, retry offered: %t", code, strings.Contains(body, `class="retry"`))
	}
}

// hetuShape matches a Finnish personal identity code.
var hetuShape = regexp.MustCompile(`\b[0-3]\d[01]\d\d\d[-+A-FU-Y]\d{3}[0-9A-Y]\b`)

// River UI's job JSON for the real jobs of the scenario batches carries
// no identity code, name or entry text from the fixtures, and neither
// does any console page.
func TestConsoleShowsNoPersonalData(t *testing.T) {
	s := startConsoleSite(t)
	waitUntil(t, 120*time.Second, "a dead letter", func() bool {
		_, body := s.get(t, "/console/dead", consoleReader, consoleReaderPassword)
		return strings.Contains(body, "SCN-PSY")
	})
	// What must never show: every identity code, name and text of the
	// fixtures.
	var secrets []string
	scen, _ := fs.Glob(fixtures.Scenarios, "scenarios/*.ndjson")
	for _, f := range scen {
		b, _ := fs.ReadFile(fixtures.Scenarios, f)
		for _, line := range bytes.Split(b, []byte("\n")) {
			var e struct {
				Author struct{ Given, Family string }
				Client struct{ Hetu, Given, Family string }
				Text   struct{ Title, Narrative string }
			}
			if json.Unmarshal(line, &e) != nil {
				continue
			}
			for _, v := range []string{e.Client.Hetu, e.Client.Given, e.Client.Family, e.Author.Given, e.Author.Family, e.Text.Title, e.Text.Narrative} {
				if len(v) >= 4 {
					secrets = append(secrets, v)
				}
			}
		}
	}
	if len(secrets) < 10 {
		t.Fatalf("only %d fixture values to look for", len(secrets))
	}
	var jobsSeen int
	for _, path := range []string{
		"/console/river/api/jobs?state=completed&limit=1000", "/console/river/api/jobs?state=cancelled&limit=1000",
		"/console/river/api/jobs?state=scheduled&limit=1000", "/console/river/api/jobs?state=retryable&limit=1000",
		"/console/river/api/jobs?state=available&limit=1000",
		"/console/", "/console/held", "/console/dead", "/console/batches",
	} {
		code, body := s.get(t, path, consoleReader, consoleReaderPassword)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		if strings.Contains(path, "/api/jobs") {
			var list struct {
				Data []struct {
					ID   json.Number     `json:"id"`
					Args json.RawMessage `json:"args"`
				} `json:"data"`
			}
			if err := json.Unmarshal([]byte(body), &list); err != nil {
				t.Fatalf("%s: %v\n%s", path, err, body)
			}
			jobsSeen += len(list.Data)
			for _, j := range list.Data {
				// And each job's own page of the API.
				_, one := s.get(t, "/console/river/api/jobs/"+j.ID.String(), consoleReader, consoleReaderPassword)
				body += one
			}
		}
		if m := hetuShape.FindString(body); m != "" {
			t.Errorf("%s shows an identity code (%s...)", path, m[:6])
		}
		for _, v := range secrets {
			if strings.Contains(body, v) {
				t.Errorf("%s shows a fixture name or text (%d characters)", path, len(v))
			}
		}
	}
	if jobsSeen < 10 {
		t.Fatalf("River UI's API listed %d jobs: the check saw too little", jobsSeen)
	}
}
