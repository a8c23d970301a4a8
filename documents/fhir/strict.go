package fhir

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// checkPresent closes what encoding/json leaves open when it decodes into
// samply's types, on a Bundle already decoded with unknown members refused:
// an element the types hold as a value (no omitempty: required codes such as
// Composition.status and Bundle.type, required strings, datatypes) must be
// in the JSON, or it would decode as the zero value (for a code, the enum's
// first value) and re-encode as something never received; and an array the
// types omit when empty must not be empty in the JSON, or it would vanish.
// Together with the refusal of unknown members, a Bundle that passes
// re-encodes to its own canonical form (TestEveryBundleKindRoundTripsAndVerifies
// and TestSamplyDecodingDefectsAreRefused check both directions).
func checkPresent(v reflect.Value, tree any, path string) error {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		obj, ok := tree.(map[string]any)
		if !ok {
			return nil
		}
		return checkStruct(v, obj, path)
	case reflect.Slice:
		if v.Type() == rawMessageType {
			return nil
		}
		arr, ok := tree.([]any)
		if !ok {
			return nil
		}
		for i := 0; i < v.Len() && i < len(arr); i++ {
			if err := checkPresent(v.Index(i), arr[i], path+"/"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
	}
	return nil
}

var (
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	rawResource    = reflect.TypeFor[RawResource]()
)

func checkStruct(v reflect.Value, obj map[string]any, path string) error {
	t := v.Type()
	if t == rawResource {
		return nil // kept verbatim
	}
	fields := structFields(t)
	for _, f := range fields {
		fv := v.FieldByIndex(f.index)
		sub, present := obj[f.name]
		switch {
		case !present && !f.omitempty:
			return fmt.Errorf("fhir: %s/%s is missing", path, f.name)
		case present && f.omitempty && fv.Kind() == reflect.Slice && fv.Len() == 0:
			return fmt.Errorf("fhir: %s/%s is an empty array", path, f.name)
		case present:
			if err := checkPresent(fv, sub, path+"/"+f.name); err != nil {
				return err
			}
		}
	}
	return nil
}

type jsonField struct {
	name      string
	index     []int
	omitempty bool
}

// structFields lists the JSON members of a struct type as encoding/json
// sees them: embedded structs' fields promoted, the shallowest of a name
// winning.
func structFields(t reflect.Type) []jsonField {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.([]jsonField)
	}
	var out []jsonField
	seen := map[string]int{} // name -> depth
	var walk func(t reflect.Type, index []int, depth int)
	walk = func(t reflect.Type, index []int, depth int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			idx := append(append([]int(nil), index...), i)
			tag := f.Tag.Get("json")
			if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx, depth+1)
				continue
			}
			if !f.IsExported() || tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" {
				name = f.Name
			}
			if d, ok := seen[name]; ok && d <= depth {
				continue
			}
			if d, ok := seen[name]; ok && d > depth {
				for j := range out {
					if out[j].name == name {
						out = append(out[:j], out[j+1:]...)
						break
					}
				}
			}
			seen[name] = depth
			out = append(out, jsonField{name: name, index: idx, omitempty: strings.Contains(opts, "omitempty")})
		}
	}
	walk(t, nil, 0)
	fieldCache.Store(t, out)
	return out
}

var fieldCache sync.Map // reflect.Type -> []jsonField
