package idempotency_test

import (
	"bytes"
	"errors"
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
	for _, in := range []string{"", `""`, "abc", `"abc`, `"a\b"`, `"a\"`, `"abc" x`, `"abc";p`, "\"a\x00\"", "\"é\"", `"` + long + `a"`, `"` + strings.Repeat(`\\`, 256) + `"`} {
		_, err := idempotency.ParseKey(in)
		assert.ErrorIs(t, err, idempotency.ErrInvalidKey, "%q", in)
	}
	assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = idempotency.ParseKey(`"8e03978e-40d5"`) }))
}

// FuzzParseKey: whatever the input, the key parser returns a key that
// passes ValidKey and re-encodes to an sf-string it parses back the same,
// or an ErrInvalidKey; it never panics.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{`"abc"`, `"a\"b\\c"`, `"`, `""`, "\"\x7f\"", `"a";b=1`, " \"x\" ", `"` + strings.Repeat("z", 300) + `"`, `\`} {
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
