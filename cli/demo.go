//go:build !kanta_production

package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/gen"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/pki"
	"github.com/helsinki-student-welfare/kanta-gateway/gateway"
	"github.com/helsinki-student-welfare/kanta-gateway/mockkanta"
	"github.com/helsinki-student-welfare/kanta-gateway/queue"
	"github.com/helsinki-student-welfare/kanta-gateway/submit"
)

const demoPassword = "kanta-test"

func (a *app) demoCommand() *cobra.Command {
	var dir string
	var n int
	var timeout time.Duration
	var logFile string
	cmd := &cobra.Command{
		Use:   "demo [--dir DIR] [--n N]",
		Short: "Run the whole gateway on a fresh machine: test PKI, fixture batches, an in-process mock Kanta over mutual TLS, and the pipeline",
		Long: `demo creates, in DIR (default ./demo), a test PKI and a spool with the scenario batches and
a generated batch of N entries, starts the mock Kanta in-process over mutual TLS on loopback,
runs the gateway once on the embedded SQLite queue, and prints what went where. It writes
DIR/gateway.yaml so that queue and audit commands can look at the result afterwards:
  kanta-gateway --config DIR/gateway.yaml queue ls --state dead
Each run starts from an empty queue and archive. On a terminal it shows one progress
display, warnings and a short report; every log line goes to --log-file (default
DIR/gateway.log).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.untilSignal(func(ctx context.Context) error { return a.demo(ctx, dir, n, timeout, logFile) })
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "demo", "working directory")
	cmd.Flags().IntVar(&n, "n", 200, "entries in the generated batch")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up waiting after this long")
	cmd.Flags().StringVar(&logFile, "log-file", "", "on a terminal: the log file (0600, appended; default DIR/gateway.log)")
	return cmd
}

func (a *app) demo(ctx context.Context, dir string, n int, timeout time.Duration, logFile string) error {
	if a.onTerminal() {
		if logFile == "" {
			logFile = filepath.Join(dir, "gateway.log")
		}
		term, err := a.startTerminal(logFile)
		if err != nil {
			return usageErr(err)
		}
		a.term = term
		defer term.close()
	}
	for _, sub := range []string{"data", "mock", "spool"} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			return err
		}
	}
	spool := filepath.Join(dir, "spool")
	if err := os.MkdirAll(spool, 0o700); err != nil {
		return err
	}

	// 1. Test PKI for the configured organisers, the mock and the gateway.
	var orgs []pki.Organiser
	for _, o := range a.cfg.Organisations {
		custodian, _ := o.Custodian() // the system certificate's serialNumber
		orgs = append(orgs, pki.Organiser{OID: o.OID, Name: o.Name, CustodianOID: custodian})
	}
	p, err := pki.Generate(filepath.Join(dir, "pki"), orgs, demoPassword, time.Now())
	if err != nil {
		return err
	}

	// 2. The spool: scenario batches and a generated one.
	scen, _ := fs.Glob(fixtures.Scenarios, "scenarios/*.ndjson")
	for _, s := range scen {
		b, err := fs.ReadFile(fixtures.Scenarios, s)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(spool, filepath.Base(s)), b, 0o600); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(filepath.Join(spool, "generated.ndjson"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := gen.Write(f, gen.Options{N: n, Seed: 1}); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}

	// 3. The mock Kanta, in-process, mutual TLS on a loopback port. It
	// validates health documents with xmllint; without xmllint (a fresh
	// machine before the test script ran) the demo still runs, and says
	// that this one check is off.
	mockCfg := mockkanta.Config{
		DataDir: filepath.Join(dir, "mock"), TrustRootFiles: []string{p.CACert},
		TLSCertFile: p.ServerCert, TLSKeyFile: p.ServerKey, ClientCAFile: p.CACert,
		Clock: a.clock,
	}
	if _, err := exec.LookPath("xmllint"); err != nil {
		mockCfg.Schema = mockkanta.NoSchemaValidation{}
		fmt.Fprintln(a.out, "note: xmllint not found: the demo's mock Kanta does not check health documents against CDA_Fi.xsd (apt-get install libxml2-utils; mock-kanta and the tests always do)")
	}
	mock, err := mockkanta.New(mockCfg)
	if err != nil {
		return err
	}
	defer mock.Close()
	tlsCfg, err := mock.TLSConfig()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mock.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(tls.NewListener(ln, tlsCfg)) }()
	defer srv.Close()
	base := "https://" + ln.Addr().String()

	// 4. The gateway's configuration for this run, written for later use.
	cfg := *a.cfg
	cfg.Spool.Dir, cfg.Spool.QuarantineDir, cfg.Spool.DoneDir = spool, filepath.Join(spool, "quarantine"), filepath.Join(spool, "done")
	cfg.Queue.Backend, cfg.Queue.SQLitePath = "sqlite", filepath.Join(dir, "data", "gateway.db")
	cfg.Queue.RetryBase = 200 * time.Millisecond
	cfg.Kanta.ArchiveURL, cfg.Kanta.FHIRURL = base+"/archive/v1/messages", base+"/fhir/r4/Bundle"
	cfg.Kanta.ClientCert, cfg.Kanta.ClientKey, cfg.Kanta.CACert = p.ClientCert, p.ClientKey, p.CACert
	cfg.Metrics.Listen = ""
	cfg.Organisations = append([]config.OrganisationConfig(nil), a.cfg.Organisations...)
	for i := range cfg.Organisations {
		s := p.Signing[cfg.Organisations[i].OID]
		cfg.Organisations[i].PKCS12, cfg.Organisations[i].PKCS12Password = s.P12, demoPassword
		cfg.Organisations[i].CertPEM, cfg.Organisations[i].KeyPEM = "", ""
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if y, err := cfg.YAML(); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "gateway.yaml"), y, 0o600)
	}
	a.cfg = &cfg

	fmt.Fprintf(a.out, "demo in %s: test PKI, %d scenario batches + %d generated entries, mock Kanta at %s (mutual TLS)\n", dir, len(scen), n, base)
	res, err := a.runOnce(ctx, timeout)
	if err != nil {
		return err
	}
	onceSummary{res}.print(a, a.out)
	return a.demoReport(ctx, base, p)
}

// demoReport prints what went where: the gateway's view per archive and
// state, and the mock archive's own count.
func (a *app) demoReport(ctx context.Context, base string, p *pki.Paths) error {
	svcQ, err := gateway.OpenQueue(ctx, a.cfg, queue.Options{Clock: a.clock, Logger: a.logger})
	if err != nil {
		return err
	}
	defer svcQ.Close()
	jobs, err := svcQ.Jobs(ctx, queue.JobFilter{Limit: 10000})
	if err != nil {
		return err
	}
	type key struct{ archive, route, state string }
	counts := map[key]int{}
	next := map[string]time.Time{}
	for _, j := range jobs {
		k := key{string(j.Delivery.Archive), j.Delivery.Route, j.State}
		counts[k]++
		if j.State == queue.StateScheduled {
			if t, ok := next[k.archive]; !ok || j.ScheduledAt.Before(t) {
				next[k.archive] = j.ScheduledAt
			}
		}
	}
	keys := make([]key, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].archive != keys[j].archive {
			return keys[i].archive < keys[j].archive
		}
		if keys[i].route != keys[j].route {
			return keys[i].route < keys[j].route
		}
		return keys[i].state < keys[j].state
	})
	fmt.Fprintln(a.out, "\nwhat went where:")
	tw := tabwriter.NewWriter(a.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ARCHIVE\tROUTE\tSTATE\tDOCUMENTS")
	for _, k := range keys {
		label := k.state
		switch k.state {
		case queue.StateDone:
			label = "delivered (acknowledged)"
		case queue.StateScheduled:
			label = "held until " + next[k.archive].In(a.cfg.Location()).Format(time.RFC3339)
		case queue.StateDead:
			label = "dead letter (see queue ls --state dead)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\n", archiveName(k.archive), k.route, label, counts[k])
	}
	tw.Flush()

	client, err := submit.TLSConfig(p.ClientCert, p.ClientKey, p.CACert)
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: client}}
	resp, err := hc.Get(base + "/api/v1/stats")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if a.term != nil {
		a.term.reportRejections(a.out, a.cfg.Spool.QuarantineDir)
		if err := printMockTable(a.out, body); err != nil {
			return fmt.Errorf("mock Kanta's stats: %w", err)
		}
		a.term.reportLog(a.out)
		fmt.Fprintf(a.out, "inspect: kanta-gateway --config %s queue ls | audit --entry SCN-PSY-14\n", filepath.Join(filepath.Dir(a.cfg.Spool.Dir), "gateway.yaml"))
		return nil
	}
	var stats map[string]any
	if err := json.Unmarshal(body, &stats); err == nil {
		out, _ := json.Marshal(stats)
		fmt.Fprintf(a.out, "\nmock Kanta's own count (GET /api/v1/stats): %s\n", out)
	}
	fmt.Fprintf(a.out, "\nrejected lines and their reasons: %s\ninspect: kanta-gateway --config %s queue ls | audit --entry SCN-PSY-14\n",
		a.cfg.Spool.QuarantineDir, filepath.Join(filepath.Dir(a.cfg.Spool.Dir), "gateway.yaml"))
	return nil
}

func archiveName(a string) string {
	switch a {
	case "patient":
		return "patient data (psychologists)"
	case "social":
		return "social welfare (welfare officers)"
	}
	return a
}

// mockStats is the mock Kanta's GET /api/v1/stats.
type mockStats struct {
	Accepted   int            `json:"accepted"`
	Duplicates int            `json:"duplicates"`
	Rejected   map[string]int `json:"rejected"`
	Errors     map[string]int `json:"errors"`
	Faults     map[string]int `json:"faults"`
	Formats    map[string]struct {
		Accepted   int            `json:"accepted"`
		Duplicates int            `json:"duplicates"`
		Rejected   map[string]int `json:"rejected"`
		Errors     map[string]int `json:"errors"`
	} `json:"formats"`
}

// printMockTable prints the mock's counts as a table: per format, then
// Kanta's refusals and the faults it injected by kind.
func printMockTable(w io.Writer, body []byte) error {
	var s mockStats
	if err := json.Unmarshal(body, &s); err != nil {
		return err
	}
	sum := func(m map[string]int) int {
		n := 0
		for _, v := range m {
			n += v
		}
		return n
	}
	fmt.Fprintln(w, "\nmock Kanta's own count (GET /api/v1/stats):")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  FORMAT\tACCEPTED\tDUPLICATES\tREJECTED\tERRORS")
	formats := make([]string, 0, len(s.Formats))
	for f := range s.Formats {
		formats = append(formats, f)
	}
	sort.Strings(formats)
	for _, f := range formats {
		c := s.Formats[f]
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\n", f, c.Accepted, c.Duplicates, sum(c.Rejected), sum(c.Errors))
	}
	fmt.Fprintf(tw, "  all\t%d\t%d\t%d\t%d\n", s.Accepted, s.Duplicates, sum(s.Rejected), sum(s.Errors))
	tw.Flush()
	for _, part := range []struct {
		label string
		m     map[string]int
	}{{"rejected", s.Rejected}, {"errors", s.Errors}, {"faults injected", s.Faults}} {
		if len(part.m) == 0 {
			continue
		}
		keys := make([]string, 0, len(part.m))
		for k := range part.m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %d", k, part.m[k])
		}
		fmt.Fprintf(w, "  %s: %s\n", part.label, b.String())
	}
	return nil
}
