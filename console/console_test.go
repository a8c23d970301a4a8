package console

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/gateway"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
	"github.com/helsinki-student-welfare/kanta-gateway/queue/queuetest"
)

func hash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// testUsers: alice may act, bob may look.
func testUsers(t *testing.T) []config.ConsoleUser {
	return []config.ConsoleUser{
		{Name: "alice", Role: config.RoleOperator, PasswordBcrypt: hash(t, "alice-pw")},
		{Name: "bob", Role: config.RoleReadOnly, PasswordBcrypt: hash(t, "bob-pw")},
	}
}

const testHetu = "010181-900C" // queuetest.Record's identity code

// fixture is a console over a real SQLite queue holding one dead letter
// (Kanta refused it: AR PROFILE_VIOLATION) and one held delivery.
type fixture struct {
	q    queue.Queue
	fake *queuetest.Fake
	srv  *httptest.Server
	dead queue.JobInfo
}

func newFixture(t *testing.T, users []config.ConsoleUser) *fixture {
	t.Helper()
	ctx := context.Background()
	fake := queuetest.NewFake()
	fake.SetDefault(queue.Result{Class: queue.Permanent, Code: "AR", Detail: "PROFILE_VIOLATION", Text: "the document does not follow the profile"})
	q, err := queue.OpenSQLite(ctx, filepath.Join(t.TempDir(), "gateway.db"), queuetest.Options(fake))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	if err := q.Ingest(ctx, queuetest.Record("E-DEAD", 1, documents.OutcomeSubmit), []queue.Delivery{queuetest.Del("E-DEAD", 1)}); err != nil {
		t.Fatal(err)
	}
	held := queuetest.Del("E-HELD", 1)
	held.Archive, held.NotBefore, held.HeldUntilGoLive = documents.ArchiveSocial, time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC).Add(24*time.Hour*365*10), true
	rec := queuetest.Record("E-HELD", 1, documents.OutcomeHold)
	rec.Archive = documents.ArchiveSocial
	if err := q.Ingest(ctx, rec, []queue.Delivery{held}); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var dead queue.JobInfo
	deadline := time.Now().Add(30 * time.Second)
	for {
		jobs, err := q.Jobs(ctx, queue.JobFilter{State: queue.StateDead})
		if err == nil && len(jobs) == 1 {
			dead = jobs[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dead letter: %v %v", jobs, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	log := &gateway.BatchSummary{File: "batch-1.ndjson", Lines: 3, Deliveries: 1, Rejected: 1}
	batches := &BatchLog{}
	batches.Add(time.Now(), []*gateway.BatchSummary{log})
	c, err := New(Options{Listen: "127.0.0.1:9464", Users: users, Logger: slog.New(slog.DiscardHandler)}, Source{
		Queue: q, Location: time.UTC, Breaker: func() string { return "closed" },
		Certificates: func() []gateway.Certificate {
			return []gateway.Certificate{{Usage: "signing", Subject: "1.2.246.10.2012566.19.1", NotAfter: time.Now().Add(20 * 24 * time.Hour)}}
		},
		Batches: batches,
	})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	if err := c.Start(cctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	return &fixture{q: q, fake: fake, srv: srv, dead: dead}
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects (the tests look at them).
func (f *fixture) browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (f *fixture) login(t *testing.T, c *http.Client, user, pw string) int {
	t.Helper()
	resp, err := c.PostForm(f.srv.URL+"/console/login", url.Values{"user": {user}, "password": {pw}, "next": {"/console/dead"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func get(t *testing.T, c *http.Client, u string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func post(t *testing.T, c *http.Client, u string, form url.Values, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", body)
	}
	return m[1]
}

func (f *fixture) jobState(t *testing.T, id int64) string {
	t.Helper()
	j, err := f.q.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j.State
}

// Off loopback the console refuses to start without users; on loopback
// it serves read-only to anyone, and with users it starts anywhere.
func TestRefusesOffLoopbackWithoutUsers(t *testing.T) {
	q, err := queue.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "q.db"), queuetest.Options(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	src := Source{Queue: q}
	for _, listen := range []string{"0.0.0.0:9464", ":9464", "192.0.2.10:9464", "[::]:9464"} {
		if _, err := New(Options{Listen: listen}, src); !errors.Is(err, ErrNoAuthentication) {
			t.Errorf("listen %s without users: %v, want ErrNoAuthentication", listen, err)
		}
		if _, err := New(Options{Listen: listen, Users: testUsers(t)[:1]}, src); err != nil {
			t.Errorf("listen %s with a user: %v", listen, err)
		}
	}
	for _, listen := range []string{"127.0.0.1:9464", "[::1]:9464", "localhost:9464"} {
		if _, err := New(Options{Listen: listen}, src); err != nil {
			t.Errorf("listen %s without users: %v, want it to start", listen, err)
		}
	}
	// The configuration says so too, before anything starts.
	cfg := config.Default()
	cfg.Metrics.Listen = "0.0.0.0:9464"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "metrics.console") {
		t.Errorf("Validate off loopback without users: %v", err)
	}
	cfg.Metrics.Console.Enabled = false
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate with the console off: %v", err)
	}
}

func TestLoginAndSessions(t *testing.T) {
	f := newFixture(t, testUsers(t))
	c := f.browser(t)
	// Nobody yet: a browser goes to the login page, a script gets a
	// basic-auth challenge.
	code, _ := get(t, c, f.srv.URL+"/console/dead", "Accept", "text/html")
	if code != http.StatusSeeOther {
		t.Errorf("browser without login: %d, want 303 to the login page", code)
	}
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/console/river/api/jobs?state=discarded", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("River UI API without login: %d %q, want 401 Basic", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if code := f.login(t, c, "alice", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d, want 401", code)
	}
	if code := f.login(t, c, "mallory", "alice-pw"); code != http.StatusUnauthorized {
		t.Errorf("unknown user: %d, want 401", code)
	}
	if code, _ := get(t, c, f.srv.URL+"/console/"); code != http.StatusUnauthorized {
		t.Errorf("after failed logins: %d, want 401", code)
	}
	if code := f.login(t, c, "alice", "alice-pw"); code != http.StatusSeeOther {
		t.Fatalf("login: %d, want 303", code)
	}
	code, body := get(t, c, f.srv.URL+"/console/")
	if code != http.StatusOK || !strings.Contains(body, "alice (operator)") {
		t.Fatalf("overview after login: %d\n%s", code, body)
	}
	// Logging out ends the session (it needs the token too).
	if code, _ := post(t, c, f.srv.URL+"/console/logout", url.Values{}); code != http.StatusForbidden {
		t.Errorf("logout without token: %d, want 403", code)
	}
	if code, _ := post(t, c, f.srv.URL+"/console/logout", url.Values{"csrf": {csrfOf(t, body)}}); code != http.StatusSeeOther {
		t.Errorf("logout: %d, want 303", code)
	}
	if code, _ := get(t, c, f.srv.URL+"/console/"); code != http.StatusUnauthorized {
		t.Errorf("after logout: %d, want 401", code)
	}
	// Basic auth works for scripts, and a wrong password does not.
	b := f.browser(t)
	req, _ = http.NewRequest(http.MethodGet, f.srv.URL+"/console/held", nil)
	req.SetBasicAuth("bob", "bob-pw")
	resp, err = b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	held, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(held), "go-live") || !strings.Contains(string(held), "social") {
		t.Errorf("held page by basic auth: %d\n%s", resp.StatusCode, held)
	}
	req.SetBasicAuth("bob", "alice-pw")
	if resp, err = b.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("basic auth with a wrong password: %d", resp.StatusCode)
	}
}

// A read-only user sees the dead letter with Kanta's answer but may not
// retry or cancel it, here or through River UI's API; an operator may,
// with the session's CSRF token, and the action is audited with who.
func TestRolesAndOperatorActions(t *testing.T) {
	f := newFixture(t, testUsers(t))
	id := f.dead.ID
	retryURL := f.srv.URL + "/console/jobs/" + itoa(id) + "/retry"

	bob := f.browser(t)
	if code := f.login(t, bob, "bob", "bob-pw"); code != http.StatusSeeOther {
		t.Fatalf("bob login: %d", code)
	}
	code, page := get(t, bob, f.srv.URL+"/console/dead")
	if code != http.StatusOK || !strings.Contains(page, "PROFILE_VIOLATION") || !strings.Contains(page, "the document does not follow the profile") || !strings.Contains(page, "E-DEAD#1") {
		t.Fatalf("dead letters for bob: %d\n%s", code, page)
	}
	if strings.Contains(page, `id="retry-`) {
		t.Errorf("read-only user is offered a retry button")
	}
	bobToken := csrfOf(t, page) // the logout form's
	if code, _ := post(t, bob, retryURL, url.Values{"csrf": {bobToken}}); code != http.StatusForbidden {
		t.Errorf("read-only retry: %d, want 403", code)
	}
	if code, _ := post(t, bob, f.srv.URL+"/console/jobs/"+itoa(id)+"/cancel", url.Values{"csrf": {bobToken}}); code != http.StatusForbidden {
		t.Errorf("read-only cancel: %d, want 403", code)
	}
	// River UI's own mutating API is closed to everyone: it would bypass
	// the deliveries table and the audit trail.
	for _, who := range []*http.Client{bob, nil} {
		c := who
		if c == nil {
			c = f.browser(t)
			f.login(t, c, "alice", "alice-pw")
		}
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/console/river/api/jobs/retry", strings.NewReader(`{"ids":["`+itoa(id)+`"]}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("River UI retry API: %d, want 403", resp.StatusCode)
		}
	}
	if st := f.jobState(t, id); st != queue.StateDead {
		t.Fatalf("after refused actions the job is %s, want dead", st)
	}

	alice := f.browser(t)
	f.login(t, alice, "alice", "alice-pw")
	_, page = get(t, alice, f.srv.URL+"/console/dead")
	if !strings.Contains(page, `id="retry-`+itoa(id)+`"`) {
		t.Fatalf("operator sees no retry button:\n%s", page)
	}
	token := csrfOf(t, page)
	if code, _ := post(t, alice, retryURL, url.Values{}); code != http.StatusForbidden {
		t.Errorf("retry without CSRF token: %d, want 403", code)
	}
	if code, _ := post(t, alice, retryURL, url.Values{"csrf": {bobToken}}); code != http.StatusForbidden {
		t.Errorf("retry with another session's token: %d, want 403", code)
	}
	// Another site's form, even with the token (a leaked one): refused by
	// the cross-origin check.
	if code, _ := post(t, alice, retryURL, url.Values{"csrf": {token}}, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"); code != http.StatusForbidden {
		t.Errorf("cross-site retry: %d, want 403", code)
	}
	if st := f.jobState(t, id); st != queue.StateDead {
		t.Fatalf("after refused retries the job is %s, want dead", st)
	}
	f.fake.SetDefault(queue.Result{Class: queue.Accepted, Code: "AA"})
	code, _ = post(t, alice, retryURL, url.Values{"csrf": {token}}, "Sec-Fetch-Site", "same-origin", "Origin", f.srv.URL)
	if code != http.StatusSeeOther {
		t.Fatalf("operator retry: %d, want 303", code)
	}
	deadline := time.Now().Add(30 * time.Second)
	for f.jobState(t, id) != queue.StateDone {
		if time.Now().After(deadline) {
			t.Fatalf("retried job is %s, want done", f.jobState(t, id))
		}
		time.Sleep(20 * time.Millisecond)
	}
	evs, err := f.q.Audit(context.Background(), queue.AuditQuery{Operator: true})
	if err != nil || len(evs) != 1 || evs[0].Actor != "console:alice" || evs[0].Event != queue.EventOperatorRetry || evs[0].EntryID != "E-DEAD" {
		t.Fatalf("operator audit %+v %v, want one retry by console:alice", evs, err)
	}
	_, overview := get(t, alice, f.srv.URL+"/console/")
	if !strings.Contains(overview, "console:alice") || !strings.Contains(overview, queue.EventOperatorRetry) {
		t.Errorf("overview does not list the operator action:\n%s", overview)
	}
	if code, _ := post(t, alice, f.srv.URL+"/console/jobs/999999/cancel", url.Values{"csrf": {token}}); code != http.StatusNotFound {
		t.Errorf("cancel of an unknown job: %d, want 404", code)
	}
}

// On loopback without users everyone reads, nobody acts.
func TestLoopbackWithoutUsersIsReadOnly(t *testing.T) {
	f := newFixture(t, nil)
	c := f.browser(t)
	code, page := get(t, c, f.srv.URL+"/console/dead")
	if code != http.StatusOK || !strings.Contains(page, "anonymous (read-only)") {
		t.Fatalf("dead letters without users: %d\n%s", code, page)
	}
	if code, _ := post(t, c, f.srv.URL+"/console/jobs/"+itoa(f.dead.ID)+"/retry", url.Values{}); code != http.StatusForbidden {
		t.Errorf("anonymous retry: %d, want 403", code)
	}
}

// No page, and no River UI job JSON, carries the identity code.
func TestNoIdentityCodeOnAnyPage(t *testing.T) {
	f := newFixture(t, testUsers(t))
	c := f.browser(t)
	f.login(t, c, "bob", "bob-pw")
	for _, p := range []string{"/console/", "/console/held", "/console/dead", "/console/batches", "/console/jobs/" + itoa(f.dead.ID),
		"/console/river/api/jobs?state=discarded", "/console/river/api/jobs?state=scheduled", "/console/river/api/jobs/" + itoa(f.dead.ID)} {
		code, body := get(t, c, f.srv.URL+p)
		if code != http.StatusOK {
			t.Errorf("%s: %d\n%s", p, code, body)
			continue
		}
		if strings.Contains(body, testHetu) || strings.Contains(body, strings.ReplaceAll(testHetu, "-", "")) {
			t.Errorf("%s shows the identity code", p)
		}
	}
	// The River UI API really returned the jobs (the check above is not
	// vacuous).
	_, body := get(t, c, f.srv.URL+"/console/river/api/jobs/"+itoa(f.dead.ID))
	if !strings.Contains(body, "E-DEAD") || !strings.Contains(body, queue.JobKind) {
		t.Errorf("River UI job JSON lacks the job:\n%s", body)
	}
}

func TestBatchLogKeepsTheLatest(t *testing.T) {
	var l BatchLog
	for i := range batchLogSize + 5 {
		l.Add(time.Unix(int64(i), 0), []*gateway.BatchSummary{{File: "b" + itoa(int64(i))}})
	}
	runs := l.Runs()
	if len(runs) != batchLogSize || runs[0].Summary.File != "b"+itoa(batchLogSize+4) || runs[len(runs)-1].Summary.File != "b5" {
		t.Fatalf("runs: %d, first %s, last %s", len(runs), runs[0].Summary.File, runs[len(runs)-1].Summary.File)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
