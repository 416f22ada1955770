package idempotency_test

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/idempotency"
)

func TestParseKey(t *testing.T) {
	long := strings.Repeat("a", 255)
	for _, tt := range []struct{ in, want string }{
		{`"abc"`, "abc"},
		{`  "8e03978e-40d5-43e8-bc93-6894a57f9324"  `, "8e03978e-40d5-43e8-bc93-6894a57f9324"},
		{`"a\"b"`, `a"b`},
		{`"a\\b"`, `a\b`},
		{`"with space"`, "with space"},
		{`"` + long + `"`, long},
	} {
		got, err := idempotency.ParseKey(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got)
	}
	for _, in := range sfParams {
		_, err := idempotency.ParseKey(in)
		assert.ErrorIs(t, err, idempotency.ErrInvalidKey, "parameters: %q", in)
	}
	for _, in := range []string{"", `""`, "abc", `"abc`, `"a\b"`, `"a\"`, `"abc" x`, `"abc";p`, "\"a\x00\"", "\"é\"", `"` + long + `a"`, `"` + strings.Repeat(`\\`, 256) + `"`} {
		_, err := idempotency.ParseKey(in)
		assert.ErrorIs(t, err, idempotency.ErrInvalidKey, "%q", in)
	}
	assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = idempotency.ParseKey(`"8e03978e-40d5"`) }))
}

// sfParams are Idempotency-Key values that carry parameters (well-formed
// RFC 9651 parameters or not): the draft defines none and the field is a
// bare sf-string, so each one is refused.
var sfParams = []string{`"abc";p=1`, `"abc"; p=1`, `"abc";p`, `"abc";p="x"`, `"abc";p=?1`, `"abc";p=:YWJj:`,
	`"abc";a=1;b=2`, `"abc" ;p=1`, `"abc";`, `"a\"b";p=1`, `"abc";p=1 `}

// FuzzParseKey: whatever the input, the key parser returns a key that
// passes ValidKey and is, once surrounding spaces are dropped, exactly the
// canonical sf-string of that key (so nothing follows it: no parameters,
// no second member), or an ErrInvalidKey; it never panics.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{`"abc"`, `"a\"b\\c"`, `"`, `""`, "\"\x7f\"", `"a";b=1`, " \"x\" ", `"` + strings.Repeat("z", 300) + `"`, `\`, `"a", "b"`} {
		f.Add(s)
	}
	for _, s := range sfParams {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		k, err := idempotency.ParseKey(in)
		if err != nil {
			if !errors.Is(err, idempotency.ErrInvalidKey) {
				t.Fatalf("error %v does not match ErrInvalidKey", err)
			}
			return
		}
		if err := idempotency.ValidKey(k); err != nil {
			t.Fatalf("parsed key %q invalid: %v", k, err)
		}
		enc := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(k) + `"`
		if trimmed := strings.Trim(in, " "); trimmed != enc {
			t.Fatalf("accepted %q as %q: not the canonical sf-string %q (parameters or trailing data)", in, k, enc)
		}
		back, err := idempotency.ParseKey(enc)
		if err != nil || back != k {
			t.Fatalf("re-encoded %q parsed as %q, %v", enc, back, err)
		}
	})
}

// FuzzDecodeResponse: the stored-response decoder refuses what
// AppendEncode never writes and round-trips what it does; it never panics.
func FuzzDecodeResponse(f *testing.F) {
	good := (&idempotency.Response{Status: 201, Header: []idempotency.HeaderField{{Name: "Content-Type", Value: "application/json"}}, Body: []byte("{}")}).AppendEncode(nil)
	f.Add(good)
	f.Add([]byte{'R', 1})
	f.Add([]byte{'R', 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add(append(good, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := idempotency.DecodeResponse(b)
		if err != nil {
			if !errors.Is(err, idempotency.ErrMalformedResponse) {
				t.Fatalf("error %v does not match ErrMalformedResponse", err)
			}
			return
		}
		if enc := r.AppendEncode(nil); !bytes.Equal(enc, b) || r.Size() != len(b) {
			t.Fatalf("decoded %+v re-encodes to %x, not %x", r, enc, b)
		}
	})
}

// FuzzHTTPKey: through the middleware, an Idempotency-Key value that
// ParseKey refuses (parameters included) is answered 400
// idempotency_key_invalid without running the handler; one it accepts runs
// the handler at most once per distinct key (the first request; a repeat
// is replayed).
func FuzzHTTPKey(f *testing.F) {
	for _, s := range append([]string{`"abc"`, `"a\"b"`, `abc`, `"abc`, `""`}, sfParams...) {
		f.Add(s)
	}
	a := newAPI(f, nil)
	seen := map[string]bool{}
	f.Fuzz(func(t *testing.T, in string) {
		runs := a.runs.Load()
		w := a.do("POST", "/charges", in, "t", "{}")
		k, err := idempotency.ParseKey(in)
		switch {
		case in == "": // no field: unguarded
			assert.Equal(t, http.StatusCreated, w.Code)
		case err != nil:
			assert.Equal(t, http.StatusBadRequest, w.Code, "%q", in)
			assert.Equal(t, "idempotency_key_invalid", code(t, w), "%q", in)
			assert.Equal(t, runs, a.runs.Load(), "the handler did not run for %q", in)
		case seen[k]:
			assert.Equal(t, http.StatusCreated, w.Code)
			assert.Equal(t, "true", w.Header().Get("Idempotent-Replayed"), "%q", in)
			assert.Equal(t, runs, a.runs.Load())
		default:
			seen[k] = true
			assert.Equal(t, http.StatusCreated, w.Code, "%q", in)
			assert.Equal(t, runs+1, a.runs.Load())
		}
	})
}
