package cli

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/clock"
	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/pki"
)

// The system signing certificate configured as the TLS client certificate
// stops `once` and the daemon at start with a configuration error (exit 2)
// that names the certificate file, before anything is read or sent.
func TestSigningCertificateAsTLSClientIsAConfigurationError(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	o := &cfg.Organisations[0]
	paths, err := pki.Generate(filepath.Join(dir, "pki"), []pki.Organiser{{OID: o.OID, Name: o.Name}}, "pw", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	o.PKCS12, o.PKCS12Password = paths.Signing[o.OID].P12, "pw"
	cfg.Spool.Dir, cfg.Spool.QuarantineDir, cfg.Spool.DoneDir = filepath.Join(dir, "spool"), filepath.Join(dir, "quarantine"), filepath.Join(dir, "done")
	cfg.Queue.SQLitePath = filepath.Join(dir, "data", "gateway.db")
	cfg.Metrics.Listen = ""
	cfg.Kanta.ClientCert, cfg.Kanta.ClientKey, cfg.Kanta.CACert = paths.Signing[o.OID].Cert, paths.Signing[o.OID].Key, paths.CACert
	for name, start := range map[string]func(a *app) error{
		"once":   func(a *app) error { return a.once(context.Background(), time.Second) },
		"daemon": func(a *app) error { return a.daemon(context.Background()) },
	} {
		var out bytes.Buffer
		a := &app{cfg: &cfg, clock: clock.System{}, logger: slog.New(slog.DiscardHandler), out: &out, errOut: &out}
		err := start(a)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != ExitUsage {
			t.Fatalf("%s with a signing certificate as TLS client: %v, want exit %d", name, err, ExitUsage)
		}
		if msg := err.Error(); !strings.Contains(msg, cfg.Kanta.ClientCert) || !strings.Contains(msg, "clientAuth") || strings.Contains(msg, cfg.Kanta.ClientKey) {
			t.Errorf("%s: %q should name the certificate file and clientAuth, not the key", name, msg)
		}
	}
}
