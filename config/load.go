package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// EnvPrefix prefixes every environment override: policy.adult_age is
// KANTA_GATEWAY_POLICY_ADULT_AGE.
const EnvPrefix = "KANTA_GATEWAY"

// keyDelimiter separates the levels of a key inside viper. It is not the
// dot: code names (documents.codes) contain dots themselves
// ("health.view.psychology"), and with viper's default delimiter a code
// name in the file became a nested map that could not be read as a code.
const keyDelimiter = "::"

// EnvCodePrefix starts the environment form of one code override. The rest
// of the variable is the code name in upper case with each dot doubled into
// "__" (underscores inside a name stay single), so that the name can be read
// back without a list of known names:
// KANTA_GATEWAY_DOCUMENTS_CODES_HEALTH__VIEW__PSYCHOLOGY sets
// documents.codes."health.view.psychology".
const EnvCodePrefix = EnvPrefix + "_DOCUMENTS_CODES_"

// EnvCodeName is the environment variable that overrides the code name.
func EnvCodeName(name string) string {
	return EnvCodePrefix + strings.ToUpper(strings.ReplaceAll(name, ".", "__"))
}

// Load reads the configuration: defaults, then the YAML file (if path is
// not empty), then KANTA_GATEWAY_* variables; and validates it. Unknown
// keys in the file are errors, so a typo never silently falls back to a
// default.
func Load(path string) (*Config, error) {
	v := viper.NewWithOptions(viper.KeyDelimiter(keyDelimiter))
	v.SetConfigType("yaml")
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(keyDelimiter, "_"))
	v.AutomaticEnv()
	def := Default()
	setDefaults(v, "", reflect.ValueOf(def))
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		defer f.Close()
		if err := v.ReadConfig(f); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	// viper reads the environment only for keys it knows, and code names
	// are not known here (each builder owns its own): the code variables
	// are found by their prefix. They win over the file, as every other
	// variable does. A misspelt name reaches the builders' check, which
	// refuses it by name.
	for _, kv := range os.Environ() {
		key, value, _ := strings.Cut(kv, "=")
		if name, ok := codeNameOfEnv(key); ok {
			v.Set(join("documents", join("codes", name)), value)
		}
	}
	cfg := Config{}
	err := v.UnmarshalExact(&cfg, func(dc *mapstructure.DecoderConfig) {
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			dateHook,
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.TextUnmarshallerHookFunc(),
		)
		dc.ZeroFields = true
	})
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", displayPath(path), err)
	}
	// A role map given in the file replaces the default one whole; fill
	// the roles it does not mention so that a file changing one date need
	// not repeat the rest.
	if cfg.Policy.Roles == nil {
		cfg.Policy.Roles = documents.DefaultRoles()
	}
	if cfg.Documents.Codes == nil {
		cfg.Documents.Codes = map[string]string{}
	}
	for a, style := range Default().Documents.Invalidation {
		if _, ok := cfg.Documents.Invalidation[a]; !ok {
			if cfg.Documents.Invalidation == nil {
				cfg.Documents.Invalidation = map[documents.Archive]string{}
			}
			cfg.Documents.Invalidation[a] = style
		}
	}
	if err := applyOrganisationEnv(&cfg, os.Environ()); err != nil {
		return nil, fmt.Errorf("config %s: %w", displayPath(path), err)
	}
	for i := range cfg.Organisations {
		if cfg.Organisations[i].SignatureType == "" {
			cfg.Organisations[i].SignatureType = "3"
		}
	}
	if err := readSecretFiles(&cfg); err != nil {
		return nil, fmt.Errorf("config %s: %w", displayPath(path), err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", displayPath(path), err)
	}
	return &cfg, nil
}

func displayPath(p string) string {
	if p == "" {
		return "(defaults)"
	}
	return p
}

// setDefaults registers every leaf of the default configuration with viper,
// so that each key can be overridden from the environment.
func setDefaults(v *viper.Viper, prefix string, val reflect.Value) {
	switch val.Kind() {
	case reflect.Struct:
		if val.Type() == reflect.TypeOf(documents.Date{}) {
			v.SetDefault(prefix, val.Interface().(documents.Date).String())
			return
		}
		t := val.Type()
		for i := 0; i < t.NumField(); i++ {
			tag := t.Field(i).Tag.Get("mapstructure")
			if tag == "" || tag == "-" {
				continue
			}
			setDefaults(v, join(prefix, tag), val.Field(i))
		}
	case reflect.Map:
		if val.Len() == 0 {
			v.SetDefault(prefix, map[string]any{})
			return
		}
		for _, k := range val.MapKeys() {
			setDefaults(v, join(prefix, fmt.Sprint(k.Interface())), val.MapIndex(k))
		}
	case reflect.Slice:
		// Lists (organisations) are given whole in the file.
		out := make([]map[string]any, 0, val.Len())
		for i := 0; i < val.Len(); i++ {
			m := map[string]any{}
			el := val.Index(i)
			for j := 0; j < el.NumField(); j++ {
				if tag := el.Type().Field(j).Tag.Get("mapstructure"); tag != "" {
					m[tag] = el.Field(j).Interface()
				}
			}
			out = append(out, m)
		}
		v.SetDefault(prefix, out)
	default:
		v.SetDefault(prefix, val.Interface())
	}
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + keyDelimiter + key
}

// codeNameOfEnv reads the code name out of a KANTA_GATEWAY_DOCUMENTS_CODES_*
// variable (see EnvCodePrefix).
func codeNameOfEnv(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, EnvCodePrefix)
	if !ok || rest == "" {
		return "", false
	}
	return strings.ToLower(strings.ReplaceAll(rest, "__", ".")), true
}

// dateHook reads policy dates given as YAML timestamps or strings.
func dateHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeOf(documents.Date{}) {
		return data, nil
	}
	switch d := data.(type) {
	case time.Time:
		return documents.DateOf(d), nil
	case string:
		if d == "" {
			return documents.Date{}, nil
		}
		p, err := documents.ParseDate(d)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", d, err)
		}
		return p, nil
	case documents.Date:
		return d, nil
	}
	return nil, errors.New("not a date")
}
