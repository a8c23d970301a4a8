//go:build kanta_production

package cli

import "github.com/spf13/cobra"

// A kanta_production build has no demo and no fixtures commands: the
// production binary carries neither the mock Kanta nor the fixture
// generators (DESIGN.md, "The production binary").

func (a *app) demoCommand() *cobra.Command     { return nil }
func (a *app) fixturesCommand() *cobra.Command { return nil }
