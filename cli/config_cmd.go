package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Validate the configuration and print the effective values (secrets redacted)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			out, err := a.cfg.Redacted().YAML()
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "# effective configuration (%s): valid\n%s", sourceName(a.configPath), out)
			return nil
		},
	})
	return cmd
}

func sourceName(p string) string {
	if p == "" {
		return "defaults, no file"
	}
	return p
}
