package notify_test

import (
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/baldur-go/baldur/notify"
)

// FuzzSilenceDecode: a silence as an operator posts it decodes and
// matches without panicking, whatever its patterns.
func FuzzSilenceDecode(f *testing.F) {
	f.Add(`{"matchers":{"source":"gov*","key":"a*b*c","max_priority":"HIGH"},"actor":"a","reason":"r","expires_at":"2026-01-02T04:00:00Z"}`, "governance", "abc")
	f.Add(`{"matchers":{"min_priority":"nope"}}`, "", "")
	f.Add(`{"matchers":{"key":"***"}}`, "x", "")
	f.Fuzz(func(t *testing.T, doc, source, title string) {
		var s notify.Silence
		if json.Unmarshal([]byte(doc), &s) != nil {
			return
		}
		n := notify.Notification{Source: source, Title: title}
		_ = s.Matcher.Matches(&n, notify.PriorityHigh)
		p, err := notify.New(notify.Config{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close(t.Context())
		_, _ = p.AddSilence(t.Context(), s)
		_, _ = p.Notify(t.Context(), n)
	})
}

func FuzzPriorityText(f *testing.F) {
	for _, s := range []string{"INFO", "critical", "9", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var p notify.Priority
		if err := p.UnmarshalText([]byte(s)); err == nil {
			b, _ := p.MarshalText()
			var q notify.Priority
			if q.UnmarshalText(b) != nil || q != p {
				t.Fatalf("round trip of %q", s)
			}
		}
	})
}
