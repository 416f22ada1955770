package dlq_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/dlq"
)

func TestMask(t *testing.T) {
	t.Parallel()
	m, err := dlq.NewMasker(dlq.Mask{Deny: []string{"password", "card.number", "items.*.pan"}, Redact: []string{`\b\d{3}-\d{2}-\d{4}\b`}})
	require.NoError(t, err)
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"no denied name passes as it is", `{"a":1,"b":"x"}`, `{"a":1,"b":"x"}`, true},
		{"a bare name matches at any depth", `{"user":{"Password":"hunter2","name":"x"}}`, `{"user":{"Password":"[MASKED]","name":"x"}}`, true},
		{"a dotted path matches from the root only", `{"card":{"number":"4111"},"x":{"card":{"number":"1"}}}`, `{"card":{"number":"[MASKED]"},"x":{"card":{"number":"1"}}}`, true},
		{"arrays are transparent and * is one name", `{"items":{"a":{"pan":"1"},"b":[{"pan":"2"}]}}`, `{"items":{"a":{"pan":"[MASKED]"},"b":[{"pan":"[MASKED]"}]}}`, true},
		{"a denied object is masked whole", `{"password":{"x":1}}`, `{"password":"[MASKED]"}`, true},
		{"redactors apply to string values", `{"note":"ssn 123-45-6789 ok"}`, `{"note":"ssn [REDACTED] ok"}`, true},
		{"escaped names are decoded", `{"pass\u0077ord":"x"}`, `{"password":"[MASKED]"}`, true},
		{"numbers keep their text", `{"password":1,"n":1.50e3}`, `{"n":1.50e3,"password":"[MASKED]"}`, true},
		{"text without denied names is redacted as text", `ssn 123-45-6789`, `ssn [REDACTED]`, true},
		{"non-JSON with a denied name is dropped", `password=hunter2`, ``, false},
		{"trailing data is dropped", `{"password":"x"} {"password":"y"}`, ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, ok := m.Apply([]byte(tt.in))
			require.Equal(t, tt.ok, ok)
			if ok {
				assert.Equal(t, tt.want, string(out))
			}
		})
	}
	off, err := dlq.NewMasker(dlq.Mask{Deny: []string{"password"}, Off: true})
	require.NoError(t, err)
	out, ok := off.Apply([]byte(`{"password":"x"}`))
	assert.True(t, ok)
	assert.Equal(t, `{"password":"x"}`, string(out), "Off stores payloads as they are")
	assert.False(t, off.Needed())
}

// deniedSurvives reports a denied field with a value other than Masked in
// v (JSON), or, when out is not JSON, a denied name anywhere in it.
func deniedSurvives(out []byte, names []string) string {
	var v any
	d := json.NewDecoder(bytes.NewReader(out))
	if err := d.Decode(&v); err != nil || d.More() {
		lower := strings.ToLower(string(out))
		for _, n := range names {
			if strings.Contains(lower, n) {
				return n
			}
		}
		return ""
	}
	var walk func(v any) string
	walk = func(v any) string {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				for _, n := range names {
					if strings.EqualFold(k, n) && val != dlq.Masked {
						return k
					}
				}
				if s := walk(val); s != "" {
					return s
				}
			}
		case []any:
			for _, e := range x {
				if s := walk(e); s != "" {
					return s
				}
			}
		}
		return ""
	}
	return walk(v)
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{`{"password":"x"}`, `{"a":[{"token":1},{"Secret":{"x":2}}]}`, `{"pass\u0077ord":"x"}`, `password`,
		`{"api_key":"k","api_key":"l"}`, `[{"cvv":"123"}]`, `"token"`, `{"ſecret":"x"}`, `{"a":"b"}`} {
		f.Add([]byte(s))
	}
	m, err := dlq.NewMasker(dlq.Mask{Deny: dlq.DefaultDeny})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, ok := m.Apply(in)
		if !ok {
			return // dropped: nothing stored
		}
		if n := deniedSurvives(out, dlq.DefaultDeny); n != "" {
			t.Fatalf("denied field %q survives masking: %q -> %q", n, in, out)
		}
	})
}
