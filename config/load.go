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

// Load reads the configuration: defaults, then the YAML file (if path is
// not empty), then KANTA_GATEWAY_* variables; and validates it. Unknown
// keys in the file are errors, so a typo never silently falls back to a
// default.
func Load(path string) (*Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
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
	for i := range cfg.Organisations {
		if cfg.Organisations[i].SignatureType == "" {
			cfg.Organisations[i].SignatureType = "3"
		}
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
	return prefix + "." + key
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
