//go:build kanta_production

package cli

import (
	"strings"
	"testing"
)

// developerBuild: this build has the demo and fixtures commands.
const developerBuild = false

// A kanta_production build has no demo and no fixtures commands: both are
// unknown (a usage error), while the operators' commands are there.
func TestProductionBuildHasNoDeveloperCommands(t *testing.T) {
	for _, name := range []string{"demo", "fixtures"} {
		if code, _, stderr := runCLI(t, name); code != ExitUsage || !strings.Contains(stderr, "unknown command") {
			t.Errorf("%s in a production build: exit %d (%s), want %d, an unknown command", name, code, stderr, ExitUsage)
		}
	}
	if code, stdout, stderr := runCLI(t, "config", "check"); code != ExitOK || !strings.Contains(stdout, "environment:") {
		t.Errorf("config check in a production build: exit %d\n%s%s", code, stdout, stderr)
	}
}
