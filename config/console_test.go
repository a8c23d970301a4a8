package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Console users come from the file and its users_file; a bad role, a
// password given instead of its hash, a name twice and a users file line
// without three fields are errors naming the key; config check never
// prints a hash, and users of the file not at all.
func TestConsoleUsers(t *testing.T) {
	dir := t.TempDir()
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	hash := string(h)
	usersFile := filepath.Join(dir, "users")
	if err := os.WriteFile(usersFile, []byte("# operators\ncarol:operator:"+hash+"\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(body string) string {
		p := filepath.Join(dir, "gateway.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := Load(write("metrics:\n  listen: 0.0.0.0:9464\n  console:\n    users_file: " + usersFile +
		"\n    users:\n      - {name: bob, role: read-only, password_bcrypt: '" + hash + "'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	users := cfg.Metrics.Console.AllUsers()
	if len(users) != 2 || users[0].Name != "bob" || users[1].Name != "carol" || users[1].Role != RoleOperator || users[1].PasswordBcrypt != hash {
		t.Fatalf("users %+v", users)
	}
	out, err := cfg.Redacted().YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), hash) || strings.Contains(string(out), "carol") || !strings.Contains(string(out), "users_file: "+usersFile) {
		t.Errorf("config check prints a hash or the file's users:\n%s", out)
	}
	for _, tc := range []struct{ body, key string }{
		{"metrics:\n  console:\n    users:\n      - {name: bob, role: admin, password_bcrypt: '" + hash + "'}\n", "metrics.console.users[0].role"},
		{"metrics:\n  console:\n    users:\n      - {name: bob, role: operator, password_bcrypt: hunter2}\n", "metrics.console.users[0].password_bcrypt"},
		{"metrics:\n  console:\n    users:\n      - {name: bob, role: operator, password_bcrypt: '" + hash + "'}\n      - {name: bob, role: read-only, password_bcrypt: '" + hash + "'}\n", "metrics.console.users[1].name"},
		{"metrics:\n  console:\n    users:\n      - {name: 'b:ob', role: operator, password_bcrypt: '" + hash + "'}\n", "metrics.console.users[0].name"},
		{"metrics:\n  console:\n    session_ttl: 0s\n", "metrics.console.session_ttl"},
		{"metrics:\n  listen: ':9464'\n", "metrics.console"},
	} {
		_, err := Load(write(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: %v, want an error naming %s", tc.body, err, tc.key)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error quotes the value: %v", err)
		}
	}
	if err := os.WriteFile(usersFile, []byte("carol operator "+hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(write("metrics:\n  console:\n    users_file: " + usersFile + "\n"))
	if err == nil || !strings.Contains(err.Error(), "metrics.console.users_file") || strings.Contains(err.Error(), hash) {
		t.Errorf("malformed users file: %v", err)
	}
}
