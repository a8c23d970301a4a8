package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunRefusesBadSettings(t *testing.T) {
	dir := t.TempDir()
	badFaults := filepath.Join(dir, "faults.json")
	os.WriteFile(badFaults, []byte(`{"error_rate":1.5}`), 0o600)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--environment", "staging"}, "environment"},
		{[]string{"--profile", "lenient"}, "profile"},
		{[]string{"--faults", badFaults}, "error_rate"},
		{[]string{"--trust", filepath.Join(dir, "missing.pem")}, "trust root"},
		{[]string{"--listen", "0.0.0.0:0", "--data-dir", dir}, "loopback"},
		{[]string{"--tls-cert", "a.pem"}, "TLS"},
		{[]string{"extra"}, "unexpected"},
	} {
		err := run(tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want one mentioning %q", tt.args, err, tt.want)
		}
	}
}
