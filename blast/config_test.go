package blast

import (
	"errors"
	"math"
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
		{BreakerConfig{Window: baldur.Duration(-time.Second)}, "Window"},
		{BreakerConfig{BucketPeriod: baldur.Duration(-time.Second)}, "BucketPeriod"},
		{BreakerConfig{Window: baldur.Duration(time.Second), BucketPeriod: baldur.Duration(2 * time.Second)}, "BucketPeriod"},
		{BreakerConfig{Window: baldur.Duration(time.Second), BucketPeriod: baldur.Duration(time.Millisecond)}, "BucketPeriod"},
		{BreakerConfig{OpenTimeout: baldur.Duration(-time.Second)}, "OpenTimeout"},
		{BreakerConfig{HalfOpenProbes: -1}, "HalfOpenProbes"},
		{BreakerConfig{HalfOpenProbes: 1 << 31}, "HalfOpenProbes"},
		{BreakerConfig{ForceTTL: baldur.Duration(-time.Minute)}, "ForceTTL"},
		{BreakerConfig{MaxPartitions: -1}, "MaxPartitions"},
		{BreakerConfig{IdleTimeout: baldur.Duration(-time.Minute)}, "IdleTimeout"},
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
	require.Equal(t, 60*time.Second, cfg.Window.D())
	require.Equal(t, 6*time.Second, cfg.BucketPeriod.D())
	require.Equal(t, 60*time.Second, cfg.OpenTimeout.D())
	require.Equal(t, 3, cfg.HalfOpenProbes)
	require.Equal(t, 90*time.Minute, cfg.ForceTTL.D())
	require.Equal(t, 10000, cfg.MaxPartitions)
	b, err := NewBreakers(BreakerConfig{Window: baldur.Duration(5 * time.Second), BucketPeriod: baldur.Duration(2 * time.Second)})
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
		{ShareCapConfig{MaxPerKey: 1, RetryAfter: baldur.Duration(-time.Second)}, "RetryAfter"},
		{ShareCapConfig{MaxPerKey: 1, MaxKeys: -1}, "MaxKeys"},
	}
	for _, tt := range tests {
		_, err := NewShareCap(tt.cfg)
		requireConfigError(t, err, tt.field)
	}
}
