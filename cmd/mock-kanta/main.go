// Command mock-kanta runs a stand-in for Kanta's patient data and social
// welfare client data archives, for integration testing of the gateway.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/helsinki-student-welfare/kanta-gateway/documents/fhir"
	"github.com/helsinki-student-welfare/kanta-gateway/mockkanta"
	"github.com/helsinki-student-welfare/kanta-gateway/mockkanta/libxml2"
	"github.com/helsinki-student-welfare/kanta-gateway/profiling"

	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// repeated collects a flag given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	stopProfile := profiling.Start("mock-kanta")
	err := run(os.Args[1:])
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mock-kanta:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mock-kanta", flag.ContinueOnError)
	var (
		cfg        mockkanta.Config
		trust      repeated
		env        string
		profile    string
		faultsFile string
		family     string
		envelope   string
	)
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8089", "listen address (plain HTTP only on loopback)")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "directory for the SQLite archive (empty: in memory)")
	fs.StringVar(&env, "environment", "test", "Kanta environment played: test (test identity codes only) or production")
	fs.StringVar(&profile, "profile", "gateway", "document profile check: gateway (everything our builders write) or minimal (what the archive needs; for documents of other systems)")
	fs.Var(&trust, "trust", "PEM file of a CA trusted for document signatures (repeatable)")
	fs.StringVar(&cfg.TLSCertFile, "tls-cert", "", "server certificate (PEM); with --tls-key and --client-ca enables mutual TLS")
	fs.StringVar(&cfg.TLSKeyFile, "tls-key", "", "server private key (PEM)")
	fs.StringVar(&cfg.ClientCAFile, "client-ca", "", "CA that client certificates must chain to (PEM)")
	fs.StringVar(&faultsFile, "faults", "", "JSON file of initial faults")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed of the fault generator")
	fs.StringVar(&family, "ack-family", "accept", "acknowledgement family answered: accept (MCCI_IN000002UV01 CA/CE/CR) or application (AA/AE/AR)")
	fs.StringVar(&envelope, "envelope", "none", "transport envelope spoken: none (bare XML), soap11 or soap12")
	fs.StringVar(&cfg.QueryInteraction, "query-interaction", "", "root element of the stored-document query (default "+wire.DefaultQueryInteraction+", unconfirmed)")
	fs.StringVar(&cfg.QueryAnswerInteraction, "query-answer-interaction", "", "root element of its answer (default "+wire.DefaultQueryAnswerInteraction+", unconfirmed)")
	fs.DurationVar(&cfg.Limits.ReadTimeout, "read-timeout", mockkanta.DefaultLimits.ReadTimeout, "longest time to read a request, body included (a slow body is cut)")
	fs.DurationVar(&cfg.Limits.WriteTimeout, "write-timeout", mockkanta.DefaultLimits.WriteTimeout, "longest time from a request's headers to the end of its answer")
	fs.DurationVar(&cfg.Limits.IdleTimeout, "idle-timeout", mockkanta.DefaultLimits.IdleTimeout, "close a keep-alive connection idle this long")
	fs.IntVar(&cfg.Limits.MaxConnections, "max-connections", mockkanta.DefaultLimits.MaxConnections, "connections served at once")
	fs.DurationVar(&cfg.MaxSignatureSkew, "max-signature-skew", mockkanta.DefaultMaxSignatureSkew, "how far a signature timestamp may lie after the receipt time (Kanta's tolerance is not public)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.Environment = mockkanta.Environment(env)
	cfg.TrustRootFiles = trust
	cfg.Profile = mockkanta.Profile(profile)
	cfg.AckFamily = wire.AckFamily(family)
	cfg.Envelope = wire.Envelope(envelope)
	if faultsFile != "" {
		f, err := mockkanta.LoadFaults(faultsFile)
		if err != nil {
			return err
		}
		cfg.Faults = f
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	// Health care documents are validated against CDA_Fi.xsd in process
	// when this binary has cgo (~0.3 ms a document); without it, by an
	// xmllint subprocess per document (~20 ms), or not at all: New fails.
	if v, err := libxml2.New(); err == nil {
		defer v.Close()
		cfg.Schema = v
	} else if libxml2.Available {
		return err
	} else {
		cfg.Logger.Warn("CDA schema validation by an xmllint subprocess per document (slow): this binary was built without cgo")
	}

	// The FHIR R4 schema takes seconds to compile (tens on a loaded
	// machine): done before the server listens, not inside the first
	// Bundle's request, whose sender may give up meanwhile.
	if err := fhir.PrepareSchema(); err != nil {
		return err
	}
	srv, err := mockkanta.New(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return srv.ListenAndServe(ctx)
}
