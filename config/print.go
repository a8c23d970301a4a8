package config

import (
	"reflect"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// YAML renders the configuration as a file Load reads back unchanged:
// keys as in the file, durations as "10m0s", dates as YYYY-MM-DD.
func (c Config) YAML() ([]byte, error) {
	return yaml.Marshal(plain(reflect.ValueOf(c)))
}

func plain(v reflect.Value) any {
	switch x := v.Interface().(type) {
	case time.Duration:
		return x.String()
	case documents.Date:
		return x.String()
	}
	switch v.Kind() {
	case reflect.Struct:
		out := yaml.Node{Kind: yaml.MappingNode}
		for i := 0; i < v.NumField(); i++ {
			tag := v.Type().Field(i).Tag.Get("mapstructure")
			if tag == "" || tag == "-" {
				continue
			}
			var val yaml.Node
			_ = val.Encode(plain(v.Field(i)))
			out.Content = append(out.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: tag}, &val)
		}
		return &out
	case reflect.Map:
		m := make(map[string]any, v.Len())
		for _, k := range v.MapKeys() {
			m[reflect.ValueOf(k.Interface()).String()] = plain(v.MapIndex(k))
		}
		return m
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = plain(v.Index(i))
		}
		return out
	}
	return v.Interface()
}
