package dlq

import (
	"bytes"
	"encoding/json"
	"io"
	"regexp"
	"strings"
)

// Masked and Redacted replace denied values and redacted matches.
const (
	Masked   = "[MASKED]"
	Redacted = "[REDACTED]"
)

// Masker applies a Mask. It is immutable after NewMasker and safe for
// concurrent use.
type Masker struct {
	off    bool
	deny   []denyPath
	names  [][]byte // the deny paths' last names, for the pre-filter; nil when one ends in '*'
	redact []*regexp.Regexp
}

type denyPath struct {
	segs     []string
	anyDepth bool
}

func NewMasker(m Mask) (*Masker, error) {
	k := &Masker{off: m.Off}
	wild := false
	for _, p := range m.Deny {
		segs := strings.Split(p, ".")
		k.deny = append(k.deny, denyPath{segs: segs, anyDepth: len(segs) == 1})
		last := segs[len(segs)-1]
		if last == "*" {
			wild = true
		}
		k.names = append(k.names, []byte(strings.ToLower(last)))
	}
	if wild {
		k.names = nil
	}
	for _, r := range m.Redact {
		re, err := regexp.Compile(r)
		if err != nil {
			return nil, err
		}
		k.redact = append(k.redact, re)
	}
	return k, nil
}

// Needed reports whether masking may change anything, so that a capture
// copies the whole payload for it.
func (k *Masker) Needed() bool { return !k.off && (len(k.deny) > 0 || len(k.redact) > 0) }

// Apply returns p masked, or ok false when p cannot be masked (a deny list
// applies and p is not one JSON value): such a payload is dropped, never
// stored raw. The result may alias p.
func (k *Masker) Apply(p []byte) (out []byte, ok bool) {
	if !k.Needed() || len(p) == 0 {
		return p, true
	}
	if len(k.deny) > 0 && !k.mayHold(p) {
		// No denied name can be in p: only the redactors apply, to the
		// text as it is.
		return k.redactText(p), true
	}
	if len(k.deny) == 0 && !json.Valid(p) {
		return k.redactText(p), true
	}
	d := json.NewDecoder(bytes.NewReader(p))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, false // trailing data
	}
	v = k.walk(v, make([]string, 0, 8))
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, false
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), true
}

// mayHold reports whether a denied name may occur in p. Escapes and
// non-ASCII bytes (which can spell or fold to a name) always may.
func (k *Masker) mayHold(p []byte) bool {
	if k.names == nil || bytes.IndexByte(p, '\\') >= 0 {
		return true
	}
	for _, c := range p {
		if c >= 0x80 {
			return true
		}
	}
	for _, n := range k.names {
		if containsFoldASCII(p, n) {
			return true
		}
	}
	return false
}

// containsFoldASCII reports whether s contains the lower-case ASCII lower,
// ignoring ASCII case.
func containsFoldASCII(s, lower []byte) bool {
	n := len(lower)
	if n == 0 {
		return true
	}
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lower[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}

func (k *Masker) walk(v any, path []string) any {
	switch x := v.(type) {
	case map[string]any:
		for name, val := range x {
			p := append(path, name)
			if k.denied(p) {
				x[name] = Masked
				continue
			}
			x[name] = k.walk(val, p)
		}
		return x
	case []any:
		for i := range x {
			x[i] = k.walk(x[i], path)
		}
		return x
	case string:
		for _, re := range k.redact {
			x = re.ReplaceAllLiteralString(x, Redacted)
		}
		return x
	}
	return v
}

func (k *Masker) denied(path []string) bool {
	for _, d := range k.deny {
		if d.anyDepth {
			if strings.EqualFold(path[len(path)-1], d.segs[0]) {
				return true
			}
			continue
		}
		if len(path) != len(d.segs) {
			continue
		}
		match := true
		for i, s := range d.segs {
			if s != "*" && !strings.EqualFold(s, path[i]) {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

func (k *Masker) redactText(p []byte) []byte {
	for _, re := range k.redact {
		p = re.ReplaceAllLiteral(p, []byte(Redacted))
	}
	return p
}
