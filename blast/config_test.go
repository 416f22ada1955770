package blast

import (
	"errors"
	"math"
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

func TestBreakerConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg   BreakerConfig
		field string
	}{
		{BreakerConfig{PartitionBy: 9}, "PartitionBy"},
		{BreakerConfig{ConsecutiveFailures: -1}, "ConsecutiveFailures"},
		{BreakerConfig{FailureRatio: -0.1}, "FailureRatio"},
		{BreakerConfig{FailureRatio: 1.5}, "FailureRatio"},
		{BreakerConfig{FailureRatio: math.NaN()}, "FailureRatio"},
		{BreakerConfig{MinRequests: -3}, "MinRequests"},
		{BreakerConfig{Window: -time.Second}, "Window"},
		{BreakerConfig{BucketPeriod: -time.Second}, "BucketPeriod"},
		{BreakerConfig{Window: time.Second, BucketPeriod: 2 * time.Second}, "BucketPeriod"},
		{BreakerConfig{Window: time.Second, BucketPeriod: time.Millisecond}, "BucketPeriod"},
		{BreakerConfig{OpenTimeout: -time.Second}, "OpenTimeout"},
		{BreakerConfig{HalfOpenProbes: -1}, "HalfOpenProbes"},
		{BreakerConfig{HalfOpenProbes: 1 << 31}, "HalfOpenProbes"},
		{BreakerConfig{ForceTTL: -time.Minute}, "ForceTTL"},
		{BreakerConfig{MaxPartitions: -1}, "MaxPartitions"},
		{BreakerConfig{IdleTimeout: -time.Minute}, "IdleTimeout"},
	}
	for _, tt := range tests {
		_, err := NewBreakers(tt.cfg)
		requireConfigError(t, err, tt.field)
	}
}

func TestBreakerConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := BreakerConfig{}.withDefaults()
	require.NoError(t, err)
	require.Equal(t, 5, cfg.ConsecutiveFailures)
	require.Equal(t, 0.5, cfg.FailureRatio)
	require.Equal(t, 10, cfg.MinRequests)
	require.Equal(t, 60*time.Second, cfg.Window)
	require.Equal(t, 6*time.Second, cfg.BucketPeriod)
	require.Equal(t, 60*time.Second, cfg.OpenTimeout)
	require.Equal(t, 3, cfg.HalfOpenProbes)
	require.Equal(t, 90*time.Minute, cfg.ForceTTL)
	require.Equal(t, 10000, cfg.MaxPartitions)
	b, err := NewBreakers(BreakerConfig{Window: 5 * time.Second, BucketPeriod: 2 * time.Second})
	require.NoError(t, err)
	require.Equal(t, 3, b.buckets, "the window rounds up to whole buckets")
}

func TestShareCapConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg   ShareCapConfig
		field string
	}{
		{ShareCapConfig{}, "Share"},
		{ShareCapConfig{Capacity: 10, Share: -0.5}, "Share"},
		{ShareCapConfig{Capacity: 10, Share: 1.01}, "Share"},
		{ShareCapConfig{Capacity: 10, Share: math.NaN()}, "Share"},
		{ShareCapConfig{Share: 0.5}, "Capacity"},
		{ShareCapConfig{Capacity: -1, MaxPerKey: 1}, "Capacity"},
		{ShareCapConfig{MaxPerKey: -1}, "MaxPerKey"},
		{ShareCapConfig{MaxPerKey: 1, RetryAfter: -time.Second}, "RetryAfter"},
		{ShareCapConfig{MaxPerKey: 1, MaxKeys: -1}, "MaxKeys"},
	}
	for _, tt := range tests {
		_, err := NewShareCap(tt.cfg)
		requireConfigError(t, err, tt.field)
	}
}

func TestManagerConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg   ManagerConfig
		field string
	}{
		{ManagerConfig{Scopes: map[baldur.BlastScope]ScopeLimits{"galaxy": {}}}, "Scopes"},
		{ManagerConfig{Scopes: map[baldur.BlastScope]ScopeLimits{baldur.ScopeService: {MaxConcurrent: -1}}}, "Scopes[service].MaxConcurrent"},
		{ManagerConfig{Scopes: map[baldur.BlastScope]ScopeLimits{baldur.ScopeInstance: {MaxTrafficPercent: 101}}}, "Scopes[instance].MaxTrafficPercent"},
		{ManagerConfig{Scopes: map[baldur.BlastScope]ScopeLimits{baldur.ScopeRegion: {MaxTrafficPercent: 60}}}, "Scopes[region].MaxTrafficPercent"},
		{ManagerConfig{Scopes: map[baldur.BlastScope]ScopeLimits{baldur.ScopeRegion: {Approval: 7}}}, "Scopes[region].Approval"},
		{ManagerConfig{GlobalMaxTraffic: 1.1}, "GlobalMaxTraffic"},
		{ManagerConfig{GlobalMaxTraffic: -0.1}, "GlobalMaxTraffic"},
		{ManagerConfig{ApprovalTTL: -time.Second}, "ApprovalTTL"},
		{ManagerConfig{Windows: []Window{{2 * time.Hour, 2 * time.Hour}}}, "Windows[0]"},
		{ManagerConfig{Windows: []Window{{0, 25 * time.Hour}}}, "Windows[0]"},
		{ManagerConfig{Windows: []Window{{-time.Hour, time.Hour}}}, "Windows[0]"},
		{ManagerConfig{Windows: []Window{{2 * time.Hour, 6 * time.Hour}, {5 * time.Hour, 7 * time.Hour}}}, "Windows[1]"},
		{ManagerConfig{Windows: []Window{{1 * time.Hour, 3 * time.Hour}, {22 * time.Hour, 2 * time.Hour}}}, "Windows[1]"},
	}
	for _, tt := range tests {
		_, err := NewManager(tt.cfg)
		requireConfigError(t, err, tt.field)
	}
	_, err := NewManager(ManagerConfig{Windows: []Window{{2 * time.Hour, 6 * time.Hour}, {6 * time.Hour, 7 * time.Hour}, {22 * time.Hour, time.Hour}}})
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
			if !errors.As(err, &ce) {
				t.Fatalf("%q: error %v is not a ConfigError", s, err)
			}
			return
		}
		if w.validate("w") != nil {
			t.Fatalf("%q parsed to invalid %v", s, w)
		}
		back, err := ParseWindow(w.String())
		if err != nil || back != w {
			t.Fatalf("%q: round trip %v -> %q -> %v, %v", s, w, w.String(), back, err)
		}
	})
}
