package cli

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/beevik/etree"
	"github.com/spf13/cobra"

	"github.com/helsinki-student-welfare/kanta-gateway/documents/cda"
	"github.com/helsinki-student-welfare/kanta-gateway/signing"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

func (a *app) verifyCommand() *cobra.Command {
	var trust []string
	var insecure bool
	var profile string
	cmd := &cobra.Command{
		Use:   "verify [--trust CA.pem | --insecure] FILE...",
		Short: "Verify the signatures and profile of CDA documents or archive messages",
		Long: `verify reads CDA documents or HL7 V3 archive messages (the document is unpacked from
the message's MIME package), prints what it found (ids, version, signer, signature type,
timestamp) and exits 0 only when every signature is valid and every document satisfies
the profile checks; 3 otherwise; 2 for usage errors. --profile minimal skips the
profile checks of this gateway's own documents (for documents other systems made).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if profile != "gateway" && profile != "minimal" {
				return usageErr(fmt.Errorf("--profile %q: gateway or minimal", profile))
			}
			if len(trust) == 0 && !insecure {
				return usageErr(errors.New("give --trust CA.pem (repeatable) or --insecure"))
			}
			opts := signing.VerifyOptions{Insecure: insecure}
			if len(trust) > 0 {
				opts.Roots = x509.NewCertPool()
				for _, t := range trust {
					pem, err := os.ReadFile(t)
					if err != nil {
						return usageErr(err)
					}
					if !opts.Roots.AppendCertsFromPEM(pem) {
						return usageErr(fmt.Errorf("%s: no PEM certificates", t))
					}
				}
			}
			failed := 0
			for _, f := range files {
				if err := a.verifyFile(f, opts, profile == "gateway"); err != nil {
					failed++
					fmt.Fprintf(a.out, "%s: INVALID: %v\n", f, err)
				}
			}
			if failed > 0 {
				return &exitError{ExitRejected, fmt.Errorf("%d of %d files failed verification", failed, len(files))}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&trust, "trust", nil, "trusted CA certificate (PEM); repeatable")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "check signatures without checking the certificate chain")
	cmd.Flags().StringVar(&profile, "profile", "gateway", "profile checks: gateway (the full profile this gateway writes) or minimal (signatures and header only, for documents of other systems)")
	return cmd
}

func (a *app) verifyFile(path string, opts signing.VerifyOptions, fullProfile bool) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc := raw
	kind := "CDA document"
	if !bytes.Contains(raw[:min(len(raw), 512)], []byte("ClinicalDocument")) {
		msg, err := wire.ParseMessage(raw)
		if err != nil {
			return fmt.Errorf("neither a CDA document nor an archive message: %w", err)
		}
		doc = msg.Document
		kind = "archive message " + msg.Interaction + " (message " + msg.MessageID + ")"
	}
	h, err := cda.Inspect(doc)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.out, "%s: %s\n  document %s  set %s  version %d  archive %s\n", path, kind, h.DocumentID, h.SetID, h.Version, h.Archive)
	tree := etree.NewDocument()
	if err := tree.ReadFromBytes(doc); err != nil {
		return err
	}
	sigs, verr := signing.VerifyTree(tree, opts)
	for _, s := range sigs {
		fmt.Fprintf(a.out, "  signature %s: type %s, signer %q (serialNumber %s), timestamp %s\n",
			s.SignatureID, s.SignatureType, s.Signer.Subject.CommonName, s.SignerSerialNumber, s.Timestamp.Format(time.RFC3339))
	}
	if verr != nil {
		return verr
	}
	// The signer must be the organisation the document names, as the
	// archive (the mock) requires.
	for _, s := range sigs {
		if err := signing.CheckSystemSigner(tree, s); err != nil {
			return err
		}
	}
	if len(sigs) == 0 {
		return errors.New("no signature")
	}
	if fullProfile {
		if err := cda.CheckProfile(doc); err != nil {
			return fmt.Errorf("profile: %w", err)
		}
	}
	fmt.Fprintf(a.out, "  OK: %d valid signature(s), profile satisfied\n", len(sigs))
	return nil
}
