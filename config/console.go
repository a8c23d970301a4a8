package config

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// ConsoleConfig is the operators' console on the operations listener
// (metrics.listen): River's UI and the gateway's own pages.
type ConsoleConfig struct {
	// Enabled serves the console under /console/ (default true). Off
	// loopback it needs users: without them the daemon refuses to start.
	Enabled bool `mapstructure:"enabled" json:"enabled"`
	// Users log in with their password, checked against its bcrypt hash.
	Users []ConsoleUser `mapstructure:"users" json:"users"`
	// UsersFile holds more users, one per line "name:role:bcrypt-hash"
	// ('#' starts a comment): a mounted secret.
	UsersFile string `mapstructure:"users_file" json:"users_file"`
	// SessionTTL is how long a login lasts without use (default 8h).
	SessionTTL time.Duration `mapstructure:"session_ttl" json:"session_ttl"`

	// FileUsers are the users read from UsersFile (never printed).
	FileUsers []ConsoleUser `mapstructure:"-" json:"-"`
}

// ConsoleUser is one console login.
type ConsoleUser struct {
	Name string `mapstructure:"name" json:"name"`
	// Role is read-only (sees every page) or operator (may also retry and
	// cancel deliveries).
	Role string `mapstructure:"role" json:"role"`
	// PasswordBcrypt is the bcrypt hash of the password (htpasswd -nbB,
	// or any bcrypt tool), never the password.
	PasswordBcrypt string `mapstructure:"password_bcrypt" json:"password_bcrypt"`
}

// Console roles.
const (
	RoleReadOnly = "read-only"
	RoleOperator = "operator"
)

// DefaultConsole is the console's default: on, no users (so only on
// loopback, read-only).
var DefaultConsole = ConsoleConfig{Enabled: true, SessionTTL: 8 * time.Hour}

// AllUsers are the configured users and those of the users file.
func (c ConsoleConfig) AllUsers() []ConsoleUser {
	return append(append([]ConsoleUser(nil), c.Users...), c.FileUsers...)
}

// IsLoopback reports whether a listen address only accepts connections
// from this machine ("127.0.0.1:9464", "[::1]:9464", "localhost:9464").
// An empty host listens on every interface.
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// readConsoleUsers reads metrics.console.users_file.
func readConsoleUsers(c *Config) error {
	cc := &c.Metrics.Console
	cc.FileUsers = nil
	if len(cc.Users) == 0 {
		cc.Users = nil // "users: []" and no key at all are the same
	}
	if cc.UsersFile == "" {
		return nil
	}
	b, err := os.ReadFile(cc.UsersFile)
	if err != nil {
		return &FieldError{Key: "metrics.console.users_file", Reason: err.Error()}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			// The line is not quoted: it may hold a hash.
			return &FieldError{Key: "metrics.console.users_file", Reason: fmt.Sprintf("%s line %d: want name:role:bcrypt-hash", cc.UsersFile, n)}
		}
		cc.FileUsers = append(cc.FileUsers, ConsoleUser{Name: parts[0], Role: parts[1], PasswordBcrypt: parts[2]})
	}
	return sc.Err()
}

// validateConsole checks metrics.console; bad names the key.
func (c *Config) validateConsole(bad func(key, format string, a ...any)) {
	cc := c.Metrics.Console
	if cc.SessionTTL <= 0 {
		bad("metrics.console.session_ttl", "must be positive")
	}
	names := map[string]bool{}
	check := func(key string, u ConsoleUser) {
		switch {
		case u.Name == "" || strings.ContainsAny(u.Name, ": \t") || len(u.Name) > 64:
			bad(key+".name", "a name of 1-64 characters without ':' or spaces")
		case names[u.Name]:
			bad(key+".name", "user %q is given twice", u.Name)
		}
		names[u.Name] = true
		if u.Role != RoleReadOnly && u.Role != RoleOperator {
			bad(key+".role", "must be %s or %s, not %q", RoleReadOnly, RoleOperator, u.Role)
		}
		if _, err := bcrypt.Cost([]byte(u.PasswordBcrypt)); err != nil {
			bad(key+".password_bcrypt", "not a bcrypt hash (give the hash, never the password)")
		}
	}
	for i, u := range cc.Users {
		check(fmt.Sprintf("metrics.console.users[%d]", i), u)
	}
	for i, u := range cc.FileUsers {
		check(fmt.Sprintf("metrics.console.users_file (user %d)", i+1), u)
	}
	if cc.Enabled && c.Metrics.Listen != "" && !IsLoopback(c.Metrics.Listen) && len(names) == 0 {
		bad("metrics.console", "metrics.listen %s is not loopback: the console needs users (metrics.console.users or users_file), or set metrics.console.enabled false", c.Metrics.Listen)
	}
}
