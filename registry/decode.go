package registry

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/clip"
)

// The configuration is one tree: the file's sections are the gates' own
// Config types, and their json tags are the file's field names. decode reads
// that tree strictly (an unknown field is an error, as is trailing data) and
// names the path of whatever it refuses, "throttles.api.key_by" rather than
// encoding/json's bare "unknown key_by", by walking the JSON token stream
// alongside the Go types: objects and arrays are walked here, every other
// value is decoded by encoding/json into its field, so each type's own
// UnmarshalJSON or UnmarshalText (baldur.Duration, baldur.Tier, throttle.KeyBy)
// is the one rule for its values.

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// maxDepth bounds nesting, so a hostile file cannot exhaust the stack.
const maxDepth = 32

type decoder struct {
	dec *json.Decoder
}

// decode reads one JSON value from r into v (a pointer) and refuses
// trailing data. Its errors are *baldur.ConfigError naming the JSON path,
// except for malformed JSON, which encoding/json describes with an offset.
func decode(r io.Reader, v any) error {
	d := &decoder{dec: json.NewDecoder(r)}
	d.dec.UseNumber()
	if err := d.value(reflect.ValueOf(v).Elem(), "", 0); err != nil {
		return err
	}
	if _, err := d.dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// value decodes the next JSON value into v, whose path is at.
func (d *decoder) value(v reflect.Value, at string, depth int) error {
	if depth > maxDepth {
		return &baldur.ConfigError{Field: at, Reason: "nested too deeply"}
	}
	t := v.Type()
	if decodesItself(t) || !walked(t) {
		if err := d.dec.Decode(v.Addr().Interface()); err != nil {
			return leafError(at, err)
		}
		return nil
	}
	tok, err := d.dec.Token()
	if err != nil {
		return leafError(at, err)
	}
	if tok == nil { // null leaves the zero value, as encoding/json does
		v.SetZero()
		return nil
	}
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	t = v.Type()
	switch t.Kind() {
	case reflect.Struct:
		if tok != json.Delim('{') {
			return typeError(at, tok, "an object")
		}
		return d.object(v, at, depth)
	case reflect.Map:
		if tok != json.Delim('{') {
			return typeError(at, tok, "an object")
		}
		return d.mapping(v, at, depth)
	default: // slice
		if tok != json.Delim('[') {
			return typeError(at, tok, "an array")
		}
		return d.array(v, at, depth)
	}
}

func (d *decoder) object(v reflect.Value, at string, depth int) error {
	fields := jsonFields(v.Type())
	for d.dec.More() {
		key, err := d.key(at)
		if err != nil {
			return err
		}
		f, ok := fields[key]
		if !ok {
			return &baldur.ConfigError{Field: join(at, key), Reason: "unknown field"}
		}
		if err := d.value(v.FieldByIndex(f), join(at, key), depth+1); err != nil {
			return err
		}
	}
	_, err := d.dec.Token() // '}'
	return leafError(at, err)
}

func (d *decoder) mapping(v reflect.Value, at string, depth int) error {
	t := v.Type()
	if v.IsNil() {
		v.Set(reflect.MakeMap(t))
	}
	for d.dec.More() {
		key, err := d.key(at)
		if err != nil {
			return err
		}
		k := reflect.New(t.Key()).Elem()
		if err := setKey(k, key); err != nil {
			return &baldur.ConfigError{Field: at, Value: strconv.Quote(clip.String(key)), Reason: reasonOf(err)}
		}
		elem := reflect.New(t.Elem()).Elem()
		if err := d.value(elem, join(at, key), depth+1); err != nil {
			return err
		}
		v.SetMapIndex(k, elem)
	}
	_, err := d.dec.Token()
	return leafError(at, err)
}

func (d *decoder) array(v reflect.Value, at string, depth int) error {
	v.SetLen(0)
	for i := 0; d.dec.More(); i++ {
		elem := reflect.New(v.Type().Elem()).Elem()
		if err := d.value(elem, at+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
			return err
		}
		v.Set(reflect.Append(v, elem))
	}
	if v.IsNil() {
		v.Set(reflect.MakeSlice(v.Type(), 0, 0)) // [] is empty, not absent
	}
	_, err := d.dec.Token()
	return leafError(at, err)
}

func (d *decoder) key(at string) (string, error) {
	tok, err := d.dec.Token()
	if err != nil {
		return "", leafError(at, err)
	}
	key, ok := tok.(string)
	if !ok {
		return "", typeError(at, tok, "an object key")
	}
	return key, nil
}

func setKey(k reflect.Value, s string) error {
	if k.Addr().Type().Implements(textUnmarshaler) {
		return k.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s))
	}
	if k.Kind() == reflect.String {
		k.SetString(s)
		return nil
	}
	return fmt.Errorf("keys of %s are not supported", k.Type())
}

// decodesItself reports whether encoding/json decodes t through a method
// of t's: then t, not the walker, owns the meaning of its JSON.
func decodesItself(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(jsonUnmarshaler) || p.Implements(textUnmarshaler)
}

// walked reports whether the walker descends into t; every other type is a
// leaf decoded by encoding/json.
func walked(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct, reflect.Map, reflect.Slice:
		// []byte is base64 to encoding/json; a slice of a uint8 enum with
		// its own text form ([]baldur.Stage) is an array.
		return t.Kind() != reflect.Slice || t.Elem().Kind() != reflect.Uint8 || decodesItself(t.Elem())
	case reflect.Pointer:
		return walked(t.Elem()) && !decodesItself(t.Elem())
	}
	return false
}

// jsonFields maps the JSON names of t's fields to their indexes, embedded
// structs inlined, as encoding/json names them; fields tagged "-" and
// unexported fields have no name.
func jsonFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous && f.Type.Kind() == reflect.Struct {
			continue
		}
		name, ok := jsonName(f)
		if !ok {
			continue
		}
		if _, dup := out[name]; !dup || len(f.Index) < len(out[name]) {
			out[name] = f.Index
		}
	}
	return out
}

func jsonName(f reflect.StructField) (string, bool) {
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, true
}

func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

// leafError names at in the error encoding/json (or a value's own
// UnmarshalJSON/UnmarshalText) gave.
func leafError(at string, err error) error {
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("malformed JSON near %s: %w", orRoot(at), err)
	}
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return &baldur.ConfigError{Field: at, Value: ute.Value, Reason: "must be " + describe(ute.Type)}
	}
	return &baldur.ConfigError{Field: at, Reason: reasonOf(err)}
}

func typeError(at string, tok json.Token, want string) error {
	return &baldur.ConfigError{Field: orRoot(at), Value: clip.String(fmt.Sprint(tok)), Reason: "must be " + want}
}

// reasonOf is err's message without the "baldur: invalid config:" or
// package prefix a nested ConfigError would repeat.
func reasonOf(err error) string {
	var ce *baldur.ConfigError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return strings.TrimPrefix(err.Error(), "baldur: ")
}

func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer that fits " + t.Kind().String()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer that fits " + t.Kind().String()
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	}
	return "a " + t.Kind().String()
}

func orRoot(at string) string {
	if at == "" {
		return "the top level"
	}
	return at
}

// fieldPath spells a gate's Go field path ("Tiers.critical.MaxWait",
// "Fractions[2].standard") with the JSON names of t's fields, so that an
// error from the gate's validation names what the user wrote
// ("tiers.critical.max_wait"). Map keys and indexes pass unchanged; a
// segment t does not know ends the translation and the rest is kept.
func fieldPath(t reflect.Type, goPath string) string {
	var b strings.Builder
	rest := goPath
	for rest != "" {
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if rest[0] == '[' { // an index or a bracketed map key
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				b.WriteString(rest)
				break
			}
			b.WriteString(rest[:end+1])
			rest = rest[end+1:]
			t = elemOf(t)
			continue
		}
		if rest[0] == '.' {
			b.WriteByte('.')
			rest = rest[1:]
			continue
		}
		end := strings.IndexAny(rest, ".[")
		if end < 0 {
			end = len(rest)
		}
		seg := rest[:end]
		rest = rest[end:]
		switch {
		case t != nil && t.Kind() == reflect.Struct:
			f, ok := t.FieldByName(seg)
			if !ok {
				b.WriteString(seg + rest)
				return b.String()
			}
			name, _ := jsonName(f)
			b.WriteString(name)
			t = f.Type
		case t != nil && t.Kind() == reflect.Map:
			b.WriteString(seg) // a map key written as a segment
			t = t.Elem()
		default:
			b.WriteString(seg + rest)
			return b.String()
		}
	}
	return b.String()
}

func elemOf(t reflect.Type) reflect.Type {
	if t == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Map, reflect.Slice, reflect.Array:
		return t.Elem()
	}
	return nil
}
