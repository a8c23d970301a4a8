package cli

import "github.com/spf13/cobra"

// commands is every subcommand of kanta-gateway, in one list. demo and
// fixtures are developer commands: a kanta_production build leaves them
// out (production.go), so its binary links neither the mock Kanta nor the
// fixture generators (DESIGN.md, "The production binary").
func (a *app) commands() []*cobra.Command {
	var out []*cobra.Command
	for _, c := range []*cobra.Command{
		a.configCommand(),
		a.planCommand(),
		a.buildCommand(),
		a.verifyCommand(),
		a.onceCommand(),
		a.runCommand(),
		a.queueCommand(),
		a.auditCommand(),
		a.fixturesCommand(), // nil in a kanta_production build
		a.demoCommand(),     // nil in a kanta_production build
	} {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}
