package idempotency

import (
	"errors"
	"strings"
)

// ErrInvalidKey matches every refused idempotency key: empty, longer than
// MaxKeyLen bytes, with a byte outside printable ASCII, or (ParseKey) not
// one RFC 9651 sf-string.
var ErrInvalidKey = errors.New("idempotency: invalid idempotency key")

var (
	errKeyEmpty   = keyError("empty")
	errKeyLong    = keyError("longer than 255 bytes")
	errKeyByte    = keyError("a byte outside printable ASCII")
	errKeyQuote   = keyError("not an sf-string: must be in double quotes")
	errKeyEscape  = keyError("not an sf-string: a backslash escapes only \" and \\")
	errKeyUnended = keyError("not an sf-string: no closing quote")
	errKeyTrail   = keyError("not an sf-string: data after the closing quote (parameters are not accepted)")
)

type keyErr struct{ msg string }

func keyError(msg string) error        { return &keyErr{"idempotency: invalid idempotency key: " + msg} }
func (e *keyErr) Error() string        { return e.msg }
func (e *keyErr) Is(target error) bool { return target == ErrInvalidKey }

// ValidKey checks a key as ledgers take it: 1–255 bytes of printable ASCII
// (0x20–0x7E).
func ValidKey(k string) error {
	switch {
	case k == "":
		return errKeyEmpty
	case len(k) > MaxKeyLen:
		return errKeyLong
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return errKeyByte
		}
	}
	return nil
}

// ParseKey parses an Idempotency-Key field value, an RFC 9651 sf-string
// (draft-ietf-httpapi-idempotency-key-header): surrounding spaces are
// dropped; the value is a double-quoted string in which a backslash escapes
// only '"' and '\'; nothing but spaces may follow the closing quote
// (parameters, which the draft defines none of, are refused). The unescaped
// key must pass ValidKey. A key without escapes is returned as a substring
// of v, without allocating. Errors match ErrInvalidKey; it never panics.
func ParseKey(v string) (string, error) {
	v = strings.Trim(v, " ")
	if len(v) == 0 || v[0] != '"' {
		if v == "" {
			return "", errKeyEmpty
		}
		return "", errKeyQuote
	}
	v = v[1:]
	var b []byte // only when an escape forces a copy
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\':
			if i+1 >= len(v) || (v[i+1] != '"' && v[i+1] != '\\') {
				return "", errKeyEscape
			}
			if b == nil {
				b = make([]byte, 0, len(v))
				b = append(b, v[:i]...)
			}
			i++
			b = append(b, v[i])
		case c == '"':
			if i+1 != len(v) {
				return "", errKeyTrail
			}
			k := v[:i]
			if b != nil {
				k = string(b)
			}
			if err := ValidKey(k); err != nil {
				return "", err
			}
			return k, nil
		case c < 0x20 || c > 0x7e:
			return "", errKeyByte
		default:
			if b != nil {
				b = append(b, c)
			}
		}
		if i > 2*MaxKeyLen+2 {
			return "", errKeyLong
		}
	}
	return "", errKeyUnended
}
