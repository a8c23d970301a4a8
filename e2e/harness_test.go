// Package e2e runs the real binaries: kanta-gateway against mock-kanta over
// mutual TLS on loopback, on SQLite and on PostgreSQL.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/pki"
	"github.com/helsinki-student-welfare/kanta-gateway/internal/pgtest"
	"github.com/helsinki-student-welfare/kanta-gateway/submit"
)

const (
	organiserOID = "1.2.246.10.2012566.19.1"
	documentRoot = "1.2.246.10.2012566"
	password     = "kanta-test"
)

var (
	binDir     string
	gatewayBin string
	mockBin    string
	testPKI    *pki.Paths
)

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		os.Exit(1)
	}
	os.RemoveAll(binDir)
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	var err error
	binDir, err = os.MkdirTemp("", "kanta-e2e-")
	if err != nil {
		return 0, err
	}
	gatewayBin, mockBin = filepath.Join(binDir, "kanta-gateway"), filepath.Join(binDir, "mock-kanta")
	for bin, pkg := range map[string]string{gatewayBin: "../cmd/kanta-gateway", mockBin: "../cmd/mock-kanta"} {
		out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	testPKI, err = pki.Generate(filepath.Join(binDir, "pki"), []pki.Organiser{{OID: organiserOID, Name: "Helsingin kaupunki"}}, password, time.Now())
	if err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// freePort picks a loopback port.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// logBuffer collects a process's output, safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// mock is a running mock-kanta process.
type mock struct {
	t      testing.TB
	base   string
	cmd    *exec.Cmd
	logs   *logBuffer
	client *http.Client
}

// startMock starts mock-kanta; extra are further flags (--envelope soap12).
func startMock(t testing.TB, dataDir string, faults string, extra ...string) *mock {
	t.Helper()
	addr := freePort(t)
	args := []string{"--listen", addr, "--data-dir", dataDir, "--trust", testPKI.CACert,
		"--tls-cert", testPKI.ServerCert, "--tls-key", testPKI.ServerKey, "--client-ca", testPKI.CACert}
	args = append(args, extra...)
	if faults != "" {
		f := filepath.Join(t.TempDir(), "faults.json")
		if err := os.WriteFile(f, []byte(faults), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--faults", f)
	}
	m := &mock{t: t, base: "https://" + addr, logs: &logBuffer{}}
	m.cmd = exec.Command(mockBin, args...)
	m.cmd.Stdout, m.cmd.Stderr = m.logs, m.logs
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// SIGTERM first: the mock stops promptly and writes its profile
		// (KANTA_PROFILE_DIR); a kill only if it does not.
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = m.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = m.cmd.Process.Kill()
			<-done
		}
	})
	tlsCfg, err := submit.TLSConfig(testPKI.ClientCert, testPKI.ClientKey, testPKI.CACert)
	if err != nil {
		t.Fatal(err)
	}
	m.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := m.client.Get(m.base + "/api/v1/stats")
		if err == nil {
			resp.Body.Close()
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("mock-kanta did not come up: %v\n%s", err, m.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (m *mock) get(path string, v any) {
	m.t.Helper()
	resp, err := m.client.Get(m.base + path)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		m.t.Fatalf("GET %s: %s: %s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		m.t.Fatalf("GET %s: %v", path, err)
	}
}

func (m *mock) put(path, body string) {
	m.t.Helper()
	req, _ := http.NewRequest(http.MethodPut, m.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := m.client.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		m.t.Fatalf("PUT %s: %s", path, resp.Status)
	}
}

// storedDoc is a document as the mock's tester API lists it.
type storedDoc struct {
	ID             string    `json:"id"`
	SetID          string    `json:"set_id"`
	Version        int       `json:"version"`
	Archive        string    `json:"archive"`
	Interaction    string    `json:"interaction"`
	AuthorRole     string    `json:"author_role"`
	ReceivedAt     time.Time `json:"received_at"`
	Submissions    int       `json:"submissions"`
	EnteredInError bool      `json:"entered_in_error"`
	Format         string    `json:"format"`
	ServiceRequest string    `json:"service_request"`
	Sequence       int64     `json:"sequence"` // the order the mock stored it in
}

func (m *mock) documents() map[string]storedDoc {
	var list []storedDoc
	m.get("/api/v1/documents", &list)
	out := make(map[string]storedDoc, len(list))
	for _, d := range list {
		if _, dup := out[d.ID]; dup {
			m.t.Errorf("document %s listed twice: stored twice", d.ID)
		}
		out[d.ID] = d
	}
	return out
}

// waitDocuments waits until the mock holds n documents.
func (m *mock) waitDocuments(n int, timeout time.Duration) map[string]storedDoc {
	m.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		docs := m.documents()
		if len(docs) >= n || time.Now().After(deadline) {
			return docs
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// site is one gateway installation: its directory, configuration and logs.
type site struct {
	t       testing.TB
	dir     string
	config  string
	spool   string
	logs    *logBuffer
	backend string
}

// backendDSN gives a fresh PostgreSQL schema per test, or "" for SQLite.
func backendDSN(t testing.TB, backend string) string {
	if backend != "postgres" {
		return ""
	}
	return pgtest.Schema(t, "e2e")
}

func newSite(t testing.TB, m *mock, backend, dsn string, extra string) *site {
	t.Helper()
	dir := t.TempDir()
	s := &site{t: t, dir: dir, spool: filepath.Join(dir, "spool"), logs: &logBuffer{}, backend: backend}
	if err := os.MkdirAll(s.spool, 0o700); err != nil {
		t.Fatal(err)
	}
	q := "queue:\n  backend: sqlite\n  sqlite_path: " + filepath.Join(dir, "data", "gateway.db") + "\n"
	if backend == "postgres" {
		q = "queue:\n  backend: postgres\n  postgres_dsn: " + dsn + "\n"
	}
	q += "  retry_base: 100ms\n  retry_cap: 2s\n"
	cfg := fmt.Sprintf(`environment: test
spool:
  dir: %s
  quarantine_dir: %s
  done_dir: %s
  poll_interval: 200ms
%skanta:
  archive_url: %s/archive/v1/messages
  fhir_url: %s/fhir/r4/Bundle
  client_cert: %s
  client_key: %s
  ca_cert: %s
  timeout: 3s
organisations:
  - oid: %s
    name: Helsingin kaupunki
    document_root: %s
    pkcs12: %s
    pkcs12_password: %s
metrics:
  listen: ""
log:
  format: json
  level: info
%s`, s.spool, filepath.Join(s.spool, "quarantine"), filepath.Join(s.spool, "done"), q,
		m.base, m.base, testPKI.ClientCert, testPKI.ClientKey, testPKI.CACert,
		organiserOID, documentRoot, testPKI.Signing[organiserOID].P12, password, extra)
	s.config = filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(s.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// copyToSpool drops a batch into the spool as an exporter would: written
// under a temporary name, then renamed.
func (s *site) copyToSpool(src string) {
	s.t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		s.t.Fatal(err)
	}
	tmp := filepath.Join(s.spool, "."+filepath.Base(src)+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(s.spool, filepath.Base(src))); err != nil {
		s.t.Fatal(err)
	}
}

func (s *site) command(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(gatewayBin, append([]string{"--config", s.config}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// run runs a gateway command to its end; stderr (the logs) is kept.
func (s *site) run(env []string, args ...string) (int, string) {
	s.t.Helper()
	cmd := s.command(env, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, s.logs
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatal(err)
	}
	return code, out.String()
}

// daemon starts `run`; stop it with SIGTERM via the returned function.
func (s *site) daemon(env []string) (*exec.Cmd, func() int) {
	s.t.Helper()
	cmd := s.command(env, "run")
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	var once sync.Once
	code := -1
	stop := func() int {
		once.Do(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
				code = cmd.ProcessState.ExitCode()
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				s.t.Errorf("gateway did not stop within 30s of SIGINT")
			}
		})
		return code
	}
	s.t.Cleanup(func() { stop() })
	return cmd, stop
}

// jobsJSON lists queue jobs through the CLI.
func (s *site) jobs(state string) []map[string]any {
	s.t.Helper()
	args := []string{"queue", "ls", "--json", "--limit", "10000"}
	if state != "" {
		args = append(args, "--state", state)
	}
	code, out := s.run(nil, args...)
	if code != 0 {
		s.t.Fatalf("queue ls exit %d: %s", code, out)
	}
	var jobs []map[string]any
	if err := json.Unmarshal([]byte(out), &jobs); err != nil {
		s.t.Fatalf("queue ls --json: %v\n%s", err, out)
	}
	return jobs
}

// personalData lists every identity code, name and narrative line of a
// batch: none may appear in any log.
func personalData(t testing.TB, files ...string) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	add := func(v string) {
		v = strings.TrimSpace(v)
		if len(v) >= 4 && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 8<<20)
		for sc.Scan() {
			var e struct {
				Client struct{ Hetu, Given, Family string }
				Author struct{ Given, Family string }
				Text   struct{ Narrative string }
			}
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue
			}
			add(e.Client.Hetu)
			add(e.Client.Given)
			add(e.Client.Family)
			add(e.Author.Given)
			add(e.Author.Family)
			for _, l := range strings.Split(e.Text.Narrative, "\n") {
				if len(l) >= 12 {
					add(l)
				}
			}
		}
		fh.Close()
	}
	return out
}

func scanLogs(t testing.TB, logs string, secrets []string) {
	t.Helper()
	if len(logs) == 0 {
		t.Fatal("no logs to scan")
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			i := strings.Index(logs, s)
			t.Errorf("logs contain personal data %q near: %q", s, logs[max(0, i-120):min(len(logs), i+40)])
		}
	}
}
