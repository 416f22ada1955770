package dlq

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzCaptureNeverStoresDeniedField runs a payload through the whole
// capture path (Capture, then the writer's prepare, as the store would
// get it): what would be stored holds no denied field with a value, is at
// most MaxPayload bytes, and is flagged Truncated when it was cut.
func FuzzCaptureNeverStoresDeniedField(f *testing.F) {
	for _, s := range []string{`{"password":"x"}`, `{"a":[{"Token":1}],"pad":"` + strings.Repeat("y", 5000) + `"}`, `{"pass\u0077ord":"x"}`, `token=1`, `{}`} {
		f.Add([]byte(s))
	}
	q, err := build(Config{Repository: NewMemory(MemoryConfig{})})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := q.Capture(context.Background(), Entry{Domain: "d", Payload: in}); err != nil {
			t.Fatal(err)
		}
		c := <-q.outbox
		e := c.e
		q.prepare(&e)
		defer q.release(&e)
		if len(e.Payload) > MaxPayload {
			t.Fatalf("stored %d bytes", len(e.Payload))
		}
		if e.PayloadDropped != "" {
			if e.Payload != nil {
				t.Fatal("a dropped payload is stored")
			}
			return
		}
		out, _ := q.mask.Apply(append([]byte(nil), in...))
		if e.Truncated != (len(out) > MaxPayload) {
			t.Fatalf("truncated %v for a masked payload of %d bytes", e.Truncated, len(out))
		}
		if !e.Truncated {
			var v any
			if json.Unmarshal(e.Payload, &v) == nil {
				if k := deniedIn(v, DefaultDeny); k != "" {
					t.Fatalf("denied field %q stored: %q", k, e.Payload)
				}
				return
			}
		}
		// Not JSON (text, or a cut document): no denied value may follow a
		// denied name, so a name may only appear next to Masked.
		lower := bytes.ToLower(e.Payload)
		for _, n := range DefaultDeny {
			for i := bytes.Index(lower, []byte(`"`+n+`":`)); i >= 0; {
				rest := e.Payload[i+len(n)+3:]
				if !bytes.HasPrefix(rest, []byte(`"`+Masked+`"`)) && len(rest) > 0 && json.Valid(in) {
					t.Fatalf("denied field %q stored unmasked: %q", n, e.Payload)
				}
				j := bytes.Index(lower[i+1:], []byte(`"`+n+`":`))
				if j < 0 {
					break
				}
				i += 1 + j
			}
		}
	})
}

func deniedIn(v any, names []string) string {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			for _, n := range names {
				if strings.EqualFold(k, n) && val != Masked {
					return k
				}
			}
			if s := deniedIn(val, names); s != "" {
				return s
			}
		}
	case []any:
		for _, e := range x {
			if s := deniedIn(e, names); s != "" {
				return s
			}
		}
	}
	return ""
}
