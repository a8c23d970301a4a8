package cli

import (
	"slices"
	"testing"
)

// Every command README lists is a subcommand of the root (commands.go is
// the one list; a developer build has demo and fixtures too).
func TestEveryCommandIsListed(t *testing.T) {
	root := (&app{}).rootCommand()
	var got []string
	for _, c := range root.Commands() {
		got = append(got, c.Name())
	}
	want := []string{"audit", "build", "config", "once", "plan", "queue", "run", "verify"}
	if developerBuild {
		want = append(want, "demo", "fixtures")
	}
	for _, name := range want {
		if !slices.Contains(got, name) {
			t.Errorf("no %s command (commands: %v)", name, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("commands %v, want exactly %v", got, want)
	}
}
