package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/gateway"
)

func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Validate the configuration and print the effective values (secrets redacted) and every code",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			codes, err := gateway.CodeTable(a.cfg.Documents.Codes)
			if err != nil {
				return usageErr(err)
			}
			unconfirmed, err := gateway.UnconfirmedInUse(a.cfg)
			if err != nil {
				return usageErr(err)
			}
			out, err := a.cfg.Redacted().YAML()
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "# effective configuration (%s): valid\n%s", sourceName(a.configPath), out)
			printCodes(a.out, codes, unconfirmed)
			return nil
		},
	})
	return cmd
}

// printCodes lists every code name with its effective value as YAML
// comments, so that the output still loads back as the configuration.
func printCodes(w io.Writer, codes, unconfirmed []gateway.CodeRow) {
	inUse := map[string]bool{}
	for _, r := range unconfirmed {
		inUse[r.Name] = true
	}
	fmt.Fprintf(w, "# codes: the effective value of every code name. Set one with documents.codes.<name> in the file\n")
	fmt.Fprintf(w, "# or %s<NAME, dots as __>. UNCONFIRMED = not public, our default: confirm with Kela.\n", config.EnvCodePrefix)
	for _, r := range codes {
		mark := ""
		switch {
		case r.Set && !r.Confirmed:
			mark = "  [set by configuration; default unconfirmed]"
		case r.Set:
			mark = "  [set by configuration]"
		case inUse[r.Name]:
			mark = "  [UNCONFIRMED, in use]"
		case !r.Confirmed:
			mark = "  [UNCONFIRMED]"
		}
		system := ""
		if r.System != "" {
			system = "  (" + r.System + ")"
		}
		fmt.Fprintf(w, "#   %s: %q%s%s\n", r.Name, r.Value, system, mark)
	}
}

func sourceName(p string) string {
	if p == "" {
		return "defaults, no file"
	}
	return p
}
