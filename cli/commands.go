package cli

import "github.com/spf13/cobra"

// commands is every subcommand of kanta-gateway, in one list.
func (a *app) commands() []*cobra.Command {
	return []*cobra.Command{
		a.configCommand(),
		a.planCommand(),
		a.buildCommand(),
		a.verifyCommand(),
		a.onceCommand(),
		a.runCommand(),
		a.queueCommand(),
		a.auditCommand(),
		a.fixturesCommand(),
		a.demoCommand(),
	}
}
