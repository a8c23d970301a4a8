//go:build !kanta_production

package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/gen"
	"github.com/helsinki-student-welfare/kanta-gateway/fixtures/pki"
)

func (a *app) fixturesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "fixtures", Short: "Generate test data: synthetic export batches and a test PKI"}

	var n, textSize int
	var seed int64
	var out string
	genCmd := &cobra.Command{
		Use:   "gen --n N --seed S --out FILE",
		Short: "Write a reproducible synthetic export batch (test identity codes only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n < 1 {
				return usageErr(fmt.Errorf("--n must be at least 1"))
			}
			if out == "" {
				return usageErr(fmt.Errorf("--out is required"))
			}
			if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
				return err
			}
			// Written under a temporary name and renamed, as the exporter
			// does, so a watching gateway never reads half a batch.
			tmp := out + ".partial"
			f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			written, err := gen.Write(f, gen.Options{N: n, Seed: seed, TextSize: textSize})
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(tmp)
				return err
			}
			if err := os.Rename(tmp, out); err != nil {
				return err
			}
			fmt.Fprintf(a.errOut, "wrote %d entry lines to %s (seed %d)\n", written, out, seed)
			return nil
		},
	}
	genCmd.Flags().IntVar(&n, "n", 1000, "number of entry lines")
	genCmd.Flags().Int64Var(&seed, "seed", 1, "random seed (same seed, same batch)")
	genCmd.Flags().IntVar(&textSize, "text-size", 600, "approximate narrative size in bytes")
	genCmd.Flags().StringVar(&out, "out", "", "output file (.ndjson)")

	var pkiOut, password string
	pkiCmd := &cobra.Command{
		Use:   "pki --out DIR",
		Short: "Create a test CA, a system-signature certificate per configured organiser, and TLS server and client certificates",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			if pkiOut == "" {
				return usageErr(fmt.Errorf("--out is required"))
			}
			var orgs []pki.Organiser
			for _, o := range a.cfg.Organisations {
				custodian, _ := o.Custodian() // the system certificate's serialNumber
				orgs = append(orgs, pki.Organiser{OID: o.OID, Name: o.Name, CustodianOID: custodian})
			}
			p, err := pki.Generate(pkiOut, orgs, password, time.Now()) // certificates are real-world facts: wall time
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "test CA:        %s\n", p.CACert)
			for oid, s := range p.Signing {
				fmt.Fprintf(a.out, "signing %s: %s (%s)\n", oid, s.P12, s.Cert)
			}
			fmt.Fprintf(a.out, "server TLS:     %s %s\nclient TLS:     %s %s\n", p.ServerCert, p.ServerKey, p.ClientCert, p.ClientKey)
			fmt.Fprintf(a.out, "valid from %s; PKCS#12 password as given with --password\n", time.Now().Format(time.DateOnly))
			return nil
		},
	}
	pkiCmd.Flags().StringVar(&pkiOut, "out", "", "directory for the PKI files")
	pkiCmd.Flags().StringVar(&password, "password", "kanta-test", "password of the PKCS#12 files")
	cmd.AddCommand(genCmd, pkiCmd)
	return cmd
}
