package blastradius

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

func requireConfigError(t *testing.T, err error, field string) {
	t.Helper()
	var ce *baldur.ConfigError
	require.True(t, errors.As(err, &ce), "want *baldur.ConfigError, got %v", err)
	require.Equal(t, field, ce.Field, "error: %v", err)
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg   Config
		field string
	}{
		{Config{Scopes: map[Scope]ScopeLimits{"galaxy": {}}}, "Scopes"},
		{Config{Scopes: map[Scope]ScopeLimits{ScopeService: {MaxConcurrent: -1}}}, "Scopes[service].MaxConcurrent"},
		{Config{Scopes: map[Scope]ScopeLimits{ScopeInstance: {MaxTrafficPercent: 101}}}, "Scopes[instance].MaxTrafficPercent"},
		{Config{Scopes: map[Scope]ScopeLimits{ScopeRegion: {MaxTrafficPercent: 60}}}, "Scopes[region].MaxTrafficPercent"},
		{Config{Scopes: map[Scope]ScopeLimits{ScopeRegion: {Approval: 7}}}, "Scopes[region].Approval"},
		{Config{GlobalMaxTraffic: 1.1}, "GlobalMaxTraffic"},
		{Config{GlobalMaxTraffic: -0.1}, "GlobalMaxTraffic"},
		{Config{ApprovalTTL: -time.Second}, "ApprovalTTL"},
		{Config{Windows: []Window{{2 * time.Hour, 2 * time.Hour}}}, "Windows[0]"},
		{Config{Windows: []Window{{0, 25 * time.Hour}}}, "Windows[0]"},
		{Config{Windows: []Window{{-time.Hour, time.Hour}}}, "Windows[0]"},
		{Config{Windows: []Window{{2 * time.Hour, 6 * time.Hour}, {5 * time.Hour, 7 * time.Hour}}}, "Windows[1]"},
		{Config{Windows: []Window{{1 * time.Hour, 3 * time.Hour}, {22 * time.Hour, 2 * time.Hour}}}, "Windows[1]"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		requireConfigError(t, err, tt.field)
	}
	_, err := New(Config{Windows: []Window{{2 * time.Hour, 6 * time.Hour}, {6 * time.Hour, 7 * time.Hour}, {22 * time.Hour, time.Hour}}})
	require.NoError(t, err, "adjacent windows do not overlap")
}

func TestParseWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Window
		err  bool
	}{
		{in: "02:00-06:00", want: Window{2 * time.Hour, 6 * time.Hour}},
		{in: " 22:30 - 01:00 ", want: Window{22*time.Hour + 30*time.Minute, time.Hour}},
		{in: "00:00-24:00", want: AnyTime},
		{in: "06:00-06:00", err: true},
		{in: "24:00-01:00", err: true},
		{in: "2:00-6:00", err: true},
		{in: "02:60-03:00", err: true},
		{in: "25:00-26:00", err: true},
		{in: "02:00", err: true},
		{in: "+1:00-02:00", err: true},
	}
	for _, tt := range tests {
		w, err := ParseWindow(tt.in)
		if tt.err {
			requireConfigError(t, err, "Window")
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, w)
		require.Equal(t, strings.ReplaceAll(strings.TrimSpace(tt.in), " ", ""), w.String())
	}
}

func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"02:00-06:00", "22:30-01:00", "00:00-24:00", "", "-", "24:00-24:00", "99:99-00:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseWindow(s)
		if err != nil {
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce, "%q: error %v is not a ConfigError", s, err)
			return
		}
		require.NoError(t, w.validate("w"), "%q parsed to invalid %v", s, w)
		back, err := ParseWindow(w.String())
		require.NoError(t, err, "%q: round trip %v -> %q", s, w, w.String())
		require.Equal(t, w, back, "%q: round trip %v -> %q -> %v", s, w, w.String(), back)
	})
}
