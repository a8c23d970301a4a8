package fhir

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	models "github.com/samply/golang-fhir-models/fhir-models/fhir"
)

// Building the structs from the parsed JSON (ParseJSON's tree) instead of
// decoding the bytes again with encoding/json: the receiver has parsed the
// Bundle once already, and encoding/json's reflection over samply's types,
// plus checkPresent walking the result beside the tree, was a third of the
// mock's time per Bundle. What is refused is what Unmarshal's byte path
// refuses (TestTreeDecodingRefusesWhatBytesRefuse), in one walk: an unknown
// member, a missing member the types hold as a value (checkPresent's rule),
// an empty array the types would omit, a missing or wrong resourceType, a
// value of the wrong JSON type, a code samply does not know. It is stricter
// in one way: member names match exactly (encoding/json also takes
// "Status" for status; the R4 schema refuses that anyway).
//
// What the tree cannot give back verbatim (a resource type the package does
// not model, kept as a RawResource, or samply's json.RawMessage elements)
// makes it fall back to the byte path (errNeedsBytes).

// errNeedsBytes: the tree holds something the structs keep as raw JSON.
var errNeedsBytes = errors.New("fhir: decoding needs the bytes")

// treeError is a refusal with the JSON pointer to the element, built on the
// way back up (nothing is spent on paths while decoding succeeds).
type treeError struct {
	rev []string // path segments, innermost first
	msg string
}

func (e *treeError) Error() string {
	var b strings.Builder
	b.WriteString("fhir: ")
	for i := len(e.rev) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(e.rev[i])
	}
	b.WriteByte(' ')
	b.WriteString(e.msg)
	return b.String()
}

func refuse(format string, args ...any) error {
	return &treeError{msg: fmt.Sprintf(format, args...)}
}

// under adds a path segment to a refusal (errNeedsBytes passes unchanged).
func under(err error, seg string) error {
	if te, ok := err.(*treeError); ok {
		te.rev = append(te.rev, seg)
	}
	return err
}

// bundleFromTree builds a Bundle from ParseJSON's tree, as strictly as the
// byte path (see above).
func bundleFromTree(tree any) (*Bundle, error) {
	obj, ok := tree.(map[string]any)
	if !ok {
		return nil, refuse("is not a JSON object")
	}
	b := new(Bundle)
	if err := decoderFor(bundleType)(reflect.ValueOf(b).Elem(), obj); err != nil {
		return nil, err
	}
	return b, nil
}

// resourceFromTree is DecodeResource on a parsed resource.
func resourceFromTree(obj map[string]any) (Resource, error) {
	rt, isString := obj["resourceType"].(string)
	if _, present := obj["resourceType"]; present && !isString {
		return nil, refuse("resourceType is not a string")
	}
	t, ok := modelledResources[rt]
	switch {
	case rt == "":
		return nil, refuse("is a resource without resourceType")
	case !ok:
		return nil, errNeedsBytes // kept verbatim as a RawResource
	}
	p := reflect.New(t)
	if err := decoderFor(t)(p.Elem(), obj); err != nil {
		return nil, err
	}
	return p.Interface(), nil
}

var (
	bundleType      = reflect.TypeFor[Bundle]()
	bundleEntryType = reflect.TypeFor[BundleEntry]()
	resourceIface   = reflect.TypeFor[Resource]()
	numberType      = reflect.TypeFor[json.Number]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

	// modelledResources are DecodeResource's cases: the types a
	// resourceType decodes into (any other becomes a RawResource).
	modelledResources = map[string]reflect.Type{
		"Bundle":           bundleType,
		"Composition":      reflect.TypeFor[Composition](),
		"Patient":          reflect.TypeFor[models.Patient](),
		"Practitioner":     reflect.TypeFor[models.Practitioner](),
		"PractitionerRole": reflect.TypeFor[models.PractitionerRole](),
		"Organization":     reflect.TypeFor[models.Organization](),
		"Encounter":        reflect.TypeFor[models.Encounter](),
		"Provenance":       reflect.TypeFor[models.Provenance](),
	}
	resourceTypeOf = func() map[reflect.Type]string {
		m := make(map[reflect.Type]string, len(modelledResources))
		for name, t := range modelledResources {
			m[t] = name
		}
		return m
	}()
)

// treeDecoder sets v (addressable) from a tree value. A JSON null leaves a
// value as it is and makes a pointer or slice nil, as encoding/json does.
type treeDecoder func(v reflect.Value, tree any) error

var treeDecoders sync.Map // reflect.Type -> treeDecoder

// decoderFor returns the (cached) decoder of a type. Recursive types
// (Extension holds Extensions, Identifier a Reference holding an
// Identifier) get an indirection while their decoder is built, as
// encoding/json does.
func decoderFor(t reflect.Type) treeDecoder {
	if d, ok := treeDecoders.Load(t); ok {
		return d.(treeDecoder)
	}
	var (
		wg sync.WaitGroup
		f  treeDecoder
	)
	wg.Add(1)
	d, loaded := treeDecoders.LoadOrStore(t, treeDecoder(func(v reflect.Value, tree any) error {
		wg.Wait()
		return f(v, tree)
	}))
	if loaded {
		return d.(treeDecoder)
	}
	f = newTreeDecoder(t)
	wg.Done()
	treeDecoders.Store(t, f)
	return f
}

func newTreeDecoder(t reflect.Type) treeDecoder {
	switch {
	case t == resourceIface:
		return decodeResourceMember
	case t == numberType:
		return decodeNumber
	case t == rawMessageType || t == rawResource:
		return needsBytes
	case t.Kind() != reflect.Struct && t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(unmarshalerType):
		return decodeCode // samply's enums
	case t.Kind() == reflect.Struct && t != bundleType && t != bundleEntryType &&
		resourceTypeOf[t] == "" && reflect.PointerTo(t).Implements(unmarshalerType):
		return needsBytes // a struct with its own decoding: only the bytes say what it means
	}
	switch t.Kind() {
	case reflect.Pointer:
		return pointerDecoder(t)
	case reflect.Slice:
		return sliceDecoder(t)
	case reflect.Struct:
		return structDecoder(t)
	case reflect.String:
		return decodeString
	case reflect.Bool:
		return decodeBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return decodeInt
	}
	return needsBytes
}

func needsBytes(reflect.Value, any) error { return errNeedsBytes }

func jsonKind(tree any) string {
	switch tree.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", tree)
}

func decodeString(v reflect.Value, tree any) error {
	switch x := tree.(type) {
	case string:
		v.SetString(x)
	case nil:
	default:
		return refuse("is %s, not a string", jsonKind(tree))
	}
	return nil
}

func decodeNumber(v reflect.Value, tree any) error {
	switch x := tree.(type) {
	case json.Number:
		v.SetString(string(x))
	case nil:
	default:
		return refuse("is %s, not a number", jsonKind(tree))
	}
	return nil
}

func decodeBool(v reflect.Value, tree any) error {
	switch x := tree.(type) {
	case bool:
		v.SetBool(x)
	case nil:
	default:
		return refuse("is %s, not a boolean", jsonKind(tree))
	}
	return nil
}

func decodeInt(v reflect.Value, tree any) error {
	switch x := tree.(type) {
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil || v.OverflowInt(n) {
			return refuse("is not an integer of %s", v.Type())
		}
		v.SetInt(n)
	case nil:
	default:
		return refuse("is %s, not an integer", jsonKind(tree))
	}
	return nil
}

// decodeCode hands a code to samply's enum, as encoding/json would: the
// enum's UnmarshalJSON reads the JSON literal (null included: samply
// refuses it for a required code).
func decodeCode(v reflect.Value, tree any) error {
	lit, err := json.Marshal(tree)
	if err != nil {
		return refuse("is not a code")
	}
	if err := v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(lit); err != nil {
		return refuse("is not a code of %s", v.Type().Name())
	}
	return nil
}

func pointerDecoder(t reflect.Type) treeDecoder {
	elem := decoderFor(t.Elem())
	return func(v reflect.Value, tree any) error {
		if tree == nil {
			v.SetZero()
			return nil
		}
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		return elem(v.Elem(), tree)
	}
}

func sliceDecoder(t reflect.Type) treeDecoder {
	elem := decoderFor(t.Elem())
	return func(v reflect.Value, tree any) error {
		switch arr := tree.(type) {
		case nil:
			v.SetZero()
			return nil
		case []any:
			s := reflect.MakeSlice(t, len(arr), len(arr))
			for i, x := range arr {
				if err := elem(s.Index(i), x); err != nil {
					return under(err, strconv.Itoa(i))
				}
			}
			v.Set(s)
			return nil
		default:
			return refuse("is %s, not an array", jsonKind(tree))
		}
	}
}

// decodeResourceMember decodes Bundle.entry.resource by its resourceType.
func decodeResourceMember(v reflect.Value, tree any) error {
	switch obj := tree.(type) {
	case nil:
		v.SetZero()
		return nil
	case map[string]any:
		r, err := resourceFromTree(obj)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(r))
		return nil
	default:
		return refuse("is %s, not a resource", jsonKind(tree))
	}
}

type treeField struct {
	jsonField
	slice bool
	dec   treeDecoder
}

// structDecoder decodes an object member by member: each member must be a
// field (for a resource, resourceType must name it), each field the types
// hold as a value must be present, and an array the types omit when empty
// must not be empty (checkPresent's rules, strict.go).
func structDecoder(t reflect.Type) treeDecoder {
	rt := resourceTypeOf[t]
	var fields []treeField
	for _, f := range structFields(t) {
		ft := t.FieldByIndex(f.index).Type
		fields = append(fields, treeField{jsonField: f, slice: ft.Kind() == reflect.Slice, dec: decoderFor(ft)})
	}
	byName := make(map[string]*treeField, len(fields))
	var required []string
	for i := range fields {
		byName[fields[i].name] = &fields[i]
		if !fields[i].omitempty {
			required = append(required, fields[i].name)
		}
	}
	slices.Sort(required)
	return func(v reflect.Value, tree any) error {
		obj, ok := tree.(map[string]any)
		if !ok {
			if tree == nil && rt == "" {
				return nil
			}
			return refuse("is %s, not an object", jsonKind(tree))
		}
		if rt != "" {
			if got, _ := obj["resourceType"].(string); got != rt {
				return refuse("has resourceType %q where %q was expected", got, rt)
			}
		}
		for name, sub := range obj {
			f := byName[name]
			if f == nil {
				if rt != "" && name == "resourceType" {
					continue
				}
				return under(refuse("is not an element of %s", t.Name()), name)
			}
			fv := v.FieldByIndex(f.index)
			if err := f.dec(fv, sub); err != nil {
				return under(err, name)
			}
			if f.omitempty && f.slice && fv.Len() == 0 {
				return under(refuse("is an empty array"), name)
			}
		}
		for _, name := range required {
			if _, present := obj[name]; !present {
				return under(refuse("is missing"), name)
			}
		}
		return nil
	}
}
