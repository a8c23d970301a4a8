package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// redactDSN hides every password of a PostgreSQL connection string: the
// password of a URL's user information (found without url.Parse, which
// reads a password holding '/' or '#' as the host and path), and
// password= / sslpassword= parameters of a URL query or a key=value DSN,
// quoted values with spaces included. It errs toward hiding too much.
func redactDSN(dsn string) string {
	out := dsn
	if scheme, rest, ok := strings.Cut(dsn, "://"); ok && !strings.ContainsAny(scheme, " =") {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if user, _, has := strings.Cut(rest[:at], ":"); has {
				rest = user + ":" + redacted + rest[at:]
			}
		}
		out = scheme + "://" + rest
	}
	return dsnPassword.ReplaceAllString(out, "${1}"+redacted)
}

// dsnPassword matches a password parameter and its value: a single-quoted
// value (backslash escapes allowed) or everything up to a space or '&'.
var dsnPassword = regexp.MustCompile(`(?i)(\b(?:ssl)?password\s*=\s*)(?:'(?:[^'\\]|\\.)*'?|[^\s&]*)`)

// readSecretFiles fills each secret given by a *_file key from its file
// (trailing newlines dropped, as a mounted secret often ends with one).
// Giving both a secret and its file is an error naming the key.
func readSecretFiles(c *Config) error {
	read := func(key, file string, value *string) error {
		if file == "" {
			return nil
		}
		if *value != "" {
			return &FieldError{Key: key, Reason: "give either the secret or its _file, not both"}
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return &FieldError{Key: key + "_file", Reason: err.Error()}
		}
		*value = strings.TrimRight(string(b), "\r\n")
		if *value == "" {
			return &FieldError{Key: key + "_file", Reason: "file " + file + " is empty"}
		}
		return nil
	}
	if err := read("queue.postgres_dsn", c.Queue.PostgresDSNFile, &c.Queue.PostgresDSN); err != nil {
		return err
	}
	for i := range c.Organisations {
		o := &c.Organisations[i]
		if err := read(fmt.Sprintf("organisations[%d].pkcs12_password", i), o.PKCS12PasswordFile, &o.PKCS12Password); err != nil {
			return err
		}
	}
	return readConsoleUsers(c)
}

// EnvOrganisationPrefix starts the environment form of a key of one
// organisation: KANTA_GATEWAY_ORGANISATIONS_<index>_<KEY>, the index
// counting from 0 in the file's list (or the default one), e.g.
// KANTA_GATEWAY_ORGANISATIONS_0_PKCS12_PASSWORD. viper reads no list
// element from the environment, so these are found by their prefix.
const EnvOrganisationPrefix = EnvPrefix + "_ORGANISATIONS_"

// applyOrganisationEnv sets organisation keys from the environment; an
// index beyond the list or an unknown key is an error naming the variable.
func applyOrganisationEnv(c *Config, environ []string) error {
	fields := map[string]int{}
	t := reflect.TypeOf(OrganisationConfig{})
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("mapstructure"); tag != "" && t.Field(i).Type.Kind() == reflect.String {
			fields[strings.ToUpper(tag)] = i
		}
	}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(name, EnvOrganisationPrefix)
		if !ok {
			continue
		}
		index, key, _ := strings.Cut(rest, "_")
		n, err := strconv.Atoi(index)
		if err != nil || n < 0 || strconv.Itoa(n) != index {
			return &FieldError{Key: name, Reason: "want " + EnvOrganisationPrefix + "<index>_<KEY>"}
		}
		if n >= len(c.Organisations) {
			return &FieldError{Key: name, Reason: fmt.Sprintf("organisations has %d entries (index from 0); list the organisation in the file", len(c.Organisations))}
		}
		f, ok := fields[key]
		if !ok {
			return &FieldError{Key: name, Reason: fmt.Sprintf("organisations[%d] has no key %q", n, strings.ToLower(key))}
		}
		reflect.ValueOf(&c.Organisations[n]).Elem().Field(f).SetString(value)
	}
	return nil
}
