package bulkhead

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
)

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		build func() error
		field string // "" means valid
	}{
		{"semaphore ok", func() error { _, err := New(Config{Name: "a", MaxConcurrent: 1}); return err }, ""},
		{"no name", func() error { _, err := New(Config{MaxConcurrent: 1}); return err }, "Name"},
		{"zero max", func() error { _, err := New(Config{Name: "a"}); return err }, "MaxConcurrent"},
		{"negative max", func() error { _, err := New(Config{Name: "a", MaxConcurrent: -3}); return err }, "MaxConcurrent"},
		{"huge max", func() error { _, err := New(Config{Name: "a", MaxConcurrent: 1 << 40}); return err }, "MaxConcurrent"},
		{"negative wait", func() error { _, err := New(Config{Name: "a", MaxConcurrent: 1, MaxWait: -1}); return err }, "MaxWait"},
		{"negative retry", func() error { _, err := New(Config{Name: "a", MaxConcurrent: 1, RetryAfter: -1}); return err }, "RetryAfter"},
		{"pool ok", func() error {
			p, err := NewPool(PoolConfig{Name: "p", Workers: 1})
			if err == nil {
				p.Close()
			}
			return err
		}, ""},
		{"pool no name", func() error { _, err := NewPool(PoolConfig{Workers: 1}); return err }, "Name"},
		{"pool zero workers", func() error { _, err := NewPool(PoolConfig{Name: "p"}); return err }, "Workers"},
		{"pool negative queue", func() error { _, err := NewPool(PoolConfig{Name: "p", Workers: 1, QueueSize: -1}); return err }, "QueueSize"},
		{"pool huge workers", func() error { _, err := NewPool(PoolConfig{Name: "p", Workers: math.MaxInt}); return err }, "Workers"},
		{"pool huge queue", func() error { _, err := NewPool(PoolConfig{Name: "p", Workers: 1, QueueSize: math.MaxInt}); return err }, "QueueSize"},
		{"pool queue past the bound", func() error { _, err := NewPool(PoolConfig{Name: "p", Workers: 1, QueueSize: 1<<20 + 1}); return err }, "QueueSize"},
		{"pool negative timeout", func() error { _, err := NewPool(PoolConfig{Name: "p", Workers: 1, Timeout: -1}); return err }, "Timeout"},
		{"pool negative retry", func() error { _, err := NewPool(PoolConfig{Name: "p", Workers: 1, RetryAfter: -1}); return err }, "RetryAfter"},
		{"tiered bad tier", func() error {
			_, err := NewTiered(TieredConfig{Tiers: map[baldur.Tier]TierLimit{7: {MaxConcurrent: 1}}})
			return err
		}, "Tiers"},
		{"tiered zero max", func() error {
			_, err := NewTiered(TieredConfig{Tiers: map[baldur.Tier]TierLimit{baldur.TierCritical: {}}})
			return err
		}, "Tiers.critical.MaxConcurrent"},
		{"tiered negative wait", func() error {
			_, err := NewTiered(TieredConfig{Tiers: map[baldur.Tier]TierLimit{baldur.TierNonEssential: {MaxConcurrent: 1, MaxWait: baldur.Duration(-time.Millisecond)}}})
			return err
		}, "Tiers.non_essential.MaxWait"},
		{"tiered negative retry", func() error { _, err := NewTiered(TieredConfig{RetryAfter: -1}); return err }, "RetryAfter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.build()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce, "got %v, want *baldur.ConfigError on %s", err, tt.field)
			require.Equal(t, tt.field, ce.Field, "got %v, want *baldur.ConfigError on %s", err, tt.field)
		})
	}
}

func TestPoolDefaults(t *testing.T) {
	t.Parallel()
	p, err := NewPool(PoolConfig{Name: "p", Workers: 1})
	require.NoError(t, err)
	defer p.Close()
	c := p.Config()
	require.Equal(t, DefaultTimeout, c.Timeout.D(), "defaults %+v", c)
	require.Equal(t, DefaultRetryAfter, c.RetryAfter.D(), "defaults %+v", c)
	require.NotNil(t, c.Clock, "defaults %+v", c)
}
