// Package console is the operators' web console of the daemon, served on
// its operations listener under /console/: River's own UI for the jobs
// (read-only) and server-rendered pages for what River cannot know (held
// documents by archive and release date, dead letters with Kanta's answer
// and retry/cancel, the last batches, certificates, the circuit breaker,
// the replicas). No page shows an identity code, a name or entry text:
// deliveries are named by entry id, revision and document id only.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"riverqueue.com/riverui"

	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/gateway"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
)

// Prefix is where the console is served; River's UI is under
// Prefix + "river/".
const Prefix = "/console/"

// RiverPrefix is where River's UI is served.
const RiverPrefix = Prefix + "river"

// Queue is what the console asks of the queue: operators' views and
// actions (River's UI among them), and the reports of its front page.
type Queue interface {
	queue.Operator
	queue.Reporter
}

// Source is what the console shows, from the running daemon.
type Source struct {
	Queue    Queue
	Location *time.Location
	// Now is the gateway's clock.
	Now func() time.Time
	// Breaker is the circuit breaker's state toward Kanta ("closed",
	// "half-open", "open"); nil when the process does not submit.
	Breaker      func() string
	Certificates func() []gateway.Certificate
	Batches      *BatchLog
}

// Options configure the console.
type Options struct {
	// Listen is the operations listener's address: off loopback the
	// console refuses to start without users.
	Listen     string
	Users      []config.ConsoleUser
	SessionTTL time.Duration
	Logger     *slog.Logger
}

// ErrNoAuthentication is New's refusal to serve off loopback without
// users.
var ErrNoAuthentication = errors.New("console: the operations listener is not loopback and no console users are configured (metrics.console.users or users_file)")

// Console is the console's HTTP handler.
type Console struct {
	src   Source
	log   *slog.Logger
	users *users
	river *riverui.Handler
	mux   *http.ServeMux
	pages *template.Template
}

//go:embed templates/*.html
var templateFiles embed.FS

// New builds the console. It refuses to serve off loopback without users.
func New(o Options, src Source) (*Console, error) {
	if len(o.Users) == 0 && !config.IsLoopback(o.Listen) {
		return nil, ErrNoAuthentication
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = config.DefaultConsole.SessionTTL
	}
	if src.Now == nil {
		src.Now = time.Now
	}
	if src.Location == nil {
		src.Location = time.Local
	}
	if src.Batches == nil {
		src.Batches = &BatchLog{}
	}
	pages, err := template.New("").Funcs(template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "–"
			}
			return t.In(src.Location).Format("2006-01-02 15:04:05")
		},
		"day": func(t time.Time) string { return t.In(src.Location).Format("2006-01-02 Mon") },
		// Certificates expire in real time, whatever clock the policy runs on.
		"days": func(t time.Time) int { return int(time.Until(t).Hours() / 24) },
		"base": filepath.Base,
		"lastError": func(errs []queue.AttemptError) string {
			if len(errs) == 0 {
				return ""
			}
			return errs[len(errs)-1].Error
		},
		"ago": func(d time.Duration) string {
			return d.Round(time.Second).String()
		},
	}).ParseFS(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	rlog := o.Logger.With("component", "riverui")
	river, err := queue.RiverUI(src.Queue, RiverPrefix, rlog)
	if err != nil {
		return nil, err
	}
	c := &Console{src: src, log: o.Logger, users: newUsers(o.Users, o.SessionTTL, time.Now), river: river, pages: pages}
	c.routes()
	return c, nil
}

// Start starts River UI's background services; they stop with ctx.
func (c *Console) Start(ctx context.Context) error { return c.river.Start(ctx) }

// Handler serves the console under Prefix. State-changing requests from
// another origin are refused (http.CrossOriginProtection: Sec-Fetch-Site
// or Origin), and our own actions also need the session's CSRF token.
func (c *Console) Handler() http.Handler {
	return http.NewCrossOriginProtection().Handler(c.mux)
}

func (c *Console) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /console/login", c.loginPage)
	m.HandleFunc("POST /console/login", c.loginSubmit)
	m.Handle("POST /console/logout", c.auth(c.logout))
	m.Handle("GET /console/{$}", c.auth(c.overview))
	m.Handle("GET /console/held", c.auth(c.held))
	m.Handle("GET /console/dead", c.auth(c.dead))
	m.Handle("GET /console/batches", c.auth(c.batches))
	m.Handle("GET /console/jobs/{id}", c.auth(c.job))
	m.Handle("POST /console/jobs/{id}/{action}", c.auth(c.act))
	m.Handle("/console/river/", c.auth(c.riverUI))
	m.Handle("/console/river", http.RedirectHandler("/console/river/", http.StatusMovedPermanently))
	m.Handle("/console", http.RedirectHandler("/console/", http.StatusMovedPermanently))
	c.mux = m
}

// auth admits a known principal; a browser without one goes to the login
// page, anything else gets 401 with a basic-auth challenge.
func (c *Console) auth(h func(http.ResponseWriter, *http.Request, *principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := c.authenticate(r)
		if p == nil {
			if r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html") {
				http.Redirect(w, r, "/console/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="kanta-gateway console", charset="UTF-8"`)
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Frame-Options", "DENY")
		h(w, r, p)
	})
}

// riverUI serves River's UI read-only to everyone: River's retry, cancel
// and delete act on river_job alone, past the deliveries table and the
// audit trail, so operators act on our dead-letter page instead.
func (c *Console) riverUI(w http.ResponseWriter, r *http.Request, p *principal) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "River UI is read-only here: retry or cancel a delivery on "+Prefix+"dead", http.StatusForbidden)
		return
	}
	c.river.ServeHTTP(w, r)
}

// page is what every template gets.
type page struct {
	Title  string
	User   *principal
	Notice string
	Error  string
	Data   any
}

func (c *Console) render(w http.ResponseWriter, name string, pg page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := c.pages.ExecuteTemplate(w, name, pg); err != nil {
		c.log.Error("console: render", "page", name, "error", err)
	}
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, "login.html", page{Title: "Log in", Data: map[string]string{"Next": safeNext(r.URL.Query().Get("next"))}})
}

// safeNext keeps a redirect after login inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return Prefix
	}
	return next
}

func (c *Console) loginSubmit(w http.ResponseWriter, r *http.Request) {
	name, pw := r.PostFormValue("user"), r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	role, ok := c.users.check(name, pw)
	if !ok {
		c.log.Warn("console: login refused", "user", name, "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusUnauthorized)
		c.render(w, "login.html", page{Title: "Log in", Error: "Unknown user or wrong password.", Data: map[string]string{"Next": next}})
		return
	}
	id, _ := c.users.login(name, role)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: Prefix, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	c.log.Info("console: login", "user", name, "role", role, "remote", r.RemoteAddr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, p *principal) {
	if !validCSRF(r, p) {
		http.Error(w, "missing or wrong CSRF token", http.StatusForbidden)
		return
	}
	if ck, err := r.Cookie(sessionCookie); err == nil {
		c.users.logout(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}

// overviewData is the first page.
type overviewData struct {
	Stats        queue.Stats
	StatsErr     string
	States       []string
	Breaker      string
	Certificates []gateway.Certificate
	Replicas     []queue.Replica
	Actions      []queue.AuditEvent
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, p *principal) {
	ctx := r.Context()
	d := overviewData{States: queue.States, Breaker: "not submitting"}
	var errs []string
	st, err := c.src.Queue.Stats(ctx)
	if err != nil {
		errs = append(errs, "queue statistics: "+err.Error())
	}
	d.Stats = st
	if c.src.Breaker != nil {
		d.Breaker = c.src.Breaker()
	}
	if c.src.Certificates != nil {
		d.Certificates = c.src.Certificates()
	}
	if d.Replicas, err = c.src.Queue.Replicas(ctx); err != nil {
		errs = append(errs, "replicas: "+err.Error())
	}
	if d.Actions, err = c.src.Queue.Audit(ctx, queue.AuditQuery{Operator: true, Limit: 20}); err != nil {
		errs = append(errs, "operator actions: "+err.Error())
	}
	c.render(w, "overview.html", page{Title: "Overview", User: p, Error: strings.Join(errs, "; "), Data: d})
}

// heldDay is the held deliveries of one archive and day.
type heldDay struct {
	Archive string
	Day     time.Time
	GoLive  bool
	Count   int
}

func (c *Console) held(w http.ResponseWriter, r *http.Request, p *principal) {
	counts, err := c.src.Queue.Held(r.Context())
	pg := page{Title: "Held documents", User: p}
	if err != nil {
		pg.Error = err.Error()
	}
	// One row per archive and release day (in the policy's time zone): the
	// 2026-09-01 backlog is one row per archive.
	var days []heldDay
	index := map[string]int{}
	totals := map[string]int{}
	for _, h := range counts {
		day := h.Until.In(c.src.Location)
		key := fmt.Sprintf("%s|%s|%t", h.Archive, day.Format(time.DateOnly), h.GoLive)
		i, ok := index[key]
		if !ok {
			i = len(days)
			index[key] = i
			days = append(days, heldDay{Archive: string(h.Archive), Day: day, GoLive: h.GoLive})
		}
		days[i].Count += h.Count
		totals[string(h.Archive)] += h.Count
	}
	pg.Data = map[string]any{"Days": days, "Totals": totals}
	c.render(w, "held.html", pg)
}

// deadLimit bounds the dead letters listed.
const deadLimit = 500

func (c *Console) dead(w http.ResponseWriter, r *http.Request, p *principal) {
	jobs, err := c.src.Queue.Jobs(r.Context(), queue.JobFilter{State: queue.StateDead, Limit: deadLimit})
	pg := page{Title: "Dead letters", User: p, Notice: r.URL.Query().Get("notice")}
	if err != nil {
		pg.Error = err.Error()
	}
	if e := r.URL.Query().Get("error"); e != "" {
		pg.Error = e
	}
	pg.Data = map[string]any{"Jobs": jobs, "Limit": deadLimit}
	c.render(w, "dead.html", pg)
}

func (c *Console) batches(w http.ResponseWriter, r *http.Request, p *principal) {
	c.render(w, "batches.html", page{Title: "Last batches", User: p, Data: c.src.Batches.Runs()})
}

// job is one delivery job, as `queue show` prints it.
func (c *Console) job(w http.ResponseWriter, r *http.Request, p *principal) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		http.Error(w, "not a job id", http.StatusBadRequest)
		return
	}
	j, err := c.src.Queue.Job(r.Context(), id)
	if errors.Is(err, queue.ErrNotFound) {
		http.Error(w, fmt.Sprintf("job %d not found", id), http.StatusNotFound)
		return
	}
	pg := page{Title: fmt.Sprintf("Job %d", id), User: p, Notice: r.URL.Query().Get("notice"), Error: r.URL.Query().Get("error")}
	if err != nil {
		pg.Error = err.Error()
	}
	pg.Data = j
	c.render(w, "job.html", pg)
}

// act is an operator's retry or cancel of one job: operator role, CSRF
// token, audited with who (queue.WithActor) in the action's transaction.
func (c *Console) act(w http.ResponseWriter, r *http.Request, p *principal) {
	if !p.Operator() {
		http.Error(w, "the "+p.Role+" role may not retry or cancel", http.StatusForbidden)
		return
	}
	if !validCSRF(r, p) {
		http.Error(w, "missing or wrong CSRF token", http.StatusForbidden)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		http.Error(w, "not a job id", http.StatusBadRequest)
		return
	}
	ctx := queue.WithActor(r.Context(), "console:"+p.Name)
	var verb string
	switch r.PathValue("action") {
	case "retry":
		verb, err = "retried", c.src.Queue.Retry(ctx, id)
	case "cancel":
		verb, err = "cancelled", c.src.Queue.Cancel(ctx, id)
	default:
		http.NotFound(w, r)
		return
	}
	if errors.Is(err, queue.ErrNotFound) {
		http.Error(w, fmt.Sprintf("job %d not found", id), http.StatusNotFound)
		return
	}
	q := url.Values{}
	if err != nil {
		c.log.Warn("console: operator action failed", "user", p.Name, "action", r.PathValue("action"), "job", id, "error", err)
		q.Set("error", err.Error())
	} else {
		c.log.Info("console: operator action", "user", p.Name, "action", r.PathValue("action"), "job", id)
		q.Set("notice", fmt.Sprintf("job %d %s by %s", id, verb, p.Name))
	}
	http.Redirect(w, r, fmt.Sprintf("%sjobs/%d?%s", Prefix, id, q.Encode()), http.StatusSeeOther)
}

// BatchRun is one batch as a spool pass read it.
type BatchRun struct {
	At      time.Time
	Summary gateway.BatchSummary
}

// BatchLog keeps the last batches this process read (in memory: another
// replica shows its own).
type BatchLog struct {
	mu   sync.Mutex
	runs []BatchRun
}

// batchLogSize is how many batches the log keeps.
const batchLogSize = 20

// Add records the batches of one spool pass.
func (l *BatchLog) Add(at time.Time, batches []*gateway.BatchSummary) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range batches {
		if b == nil {
			continue
		}
		l.runs = append(l.runs, BatchRun{At: at, Summary: *b})
	}
	if n := len(l.runs); n > batchLogSize {
		l.runs = append([]BatchRun(nil), l.runs[n-batchLogSize:]...)
	}
}

// Runs are the batches kept, the latest first.
func (l *BatchLog) Runs() []BatchRun {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]BatchRun, len(l.runs))
	for i, r := range l.runs {
		out[len(l.runs)-1-i] = r
	}
	return out
}
