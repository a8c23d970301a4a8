package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/gateway"
)

func (a *app) buildCommand() *cobra.Command {
	var outDir string
	var all bool
	cmd := &cobra.Command{
		Use:   "build --out DIR FILE...",
		Short: "Build and sign the documents the policy would submit now, and write them to a directory (nothing is sent)",
		Long: `build writes, for every entry revision the policy would submit now (with --all also
held ones), <doc id>.cda.xml (the signed CDA document) and <doc id>.frame.xml (the HL7 V3
archive message carrying it), and <bundle id>.fhir.json when the archive's route includes
FHIR. Rejections are printed as in plan. Exit 0 when every line got a decision, 3 when a
document could not be built, 2 for usage or configuration errors.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if outDir == "" {
				return usageErr(errors.New("--out is required"))
			}
			if err := a.load(); err != nil {
				return err
			}
			return a.build(files, outDir, all)
		},
	}
	cmd.Flags().StringVar(&outDir, "out", "", "output directory")
	cmd.Flags().BoolVar(&all, "all", false, "also build held entries (not due yet)")
	return cmd
}

func (a *app) build(files []string, outDir string, all bool) error {
	now := a.clock.Now()
	builder, err := gateway.NewBuilder(a.cfg, time.Now())
	if err != nil {
		return usageErr(err)
	}
	if err := os.MkdirAll(outDir, 0o700); err != nil {
		return err
	}
	var buildErrs []error
	written := 0
	write := func(name string, b []byte) error {
		written++
		return os.WriteFile(filepath.Join(outDir, name), b, 0o600)
	}
	sum, err := gateway.DryRun(context.Background(), a.cfg, builder, a.clock, files, func(l gateway.PlannedLine) error {
		switch {
		case l.AlreadyRead:
			return nil
		case l.BuildFailed:
			buildErrs = append(buildErrs, fmt.Errorf("%s:%d: %s#%d: %s", l.File, l.Line, l.Entry.ID, l.Entry.Revision, l.Rejection.Reason))
			return nil
		case l.Rejection != nil:
			fmt.Fprintf(a.errOut, "%s\n", l.Rejection.Error())
			return nil
		}
		switch l.Decision.Outcome {
		case documents.OutcomeSubmit, documents.OutcomeInvalidate:
		case documents.OutcomeHold:
			if !all {
				return nil
			}
		default:
			return nil
		}
		for _, bd := range l.Built {
			if bd.CDA != nil {
				if err := write(bd.Delivery.DocumentID+".cda.xml", bd.CDA); err != nil {
					return err
				}
				if err := write(bd.Delivery.DocumentID+".frame.xml", bd.Frame); err != nil {
					return err
				}
			}
			if bd.Bundle != nil {
				if err := write(bd.Delivery.DocumentID+".fhir.json", bd.Bundle); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	printPlanSummary(a.errOut, sum, now, a.cfg.Location())
	fmt.Fprintf(a.errOut, "  wrote %d files to %s\n", written, outDir)
	if sum.ReadErr != nil {
		return &exitError{ExitFailure, sum.ReadErr}
	}
	if len(buildErrs) > 0 {
		return &exitError{ExitRejected, errors.Join(buildErrs...)}
	}
	return nil
}
