package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// otherClient is a UniversalClient whose options cannot be read.
type otherClient struct{ redis.UniversalClient }

func TestCheckClient(t *testing.T) {
	redistest.NoLeaks(t)
	good := func() *redis.Options {
		return &redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true, MaxRetries: -1}
	}
	cases := []struct {
		name  string
		make  func() redis.UniversalClient
		field string // "" means valid
	}{
		{"client ok", func() redis.UniversalClient { return redis.NewClient(good()) }, ""},
		{"client without context timeouts", func() redis.UniversalClient {
			o := good()
			o.ContextTimeoutEnabled = false
			return redis.NewClient(o)
		}, "ContextTimeoutEnabled"},
		{"client with default retries", func() redis.UniversalClient {
			o := good()
			o.MaxRetries = 0
			return redis.NewClient(o)
		}, "MaxRetries"},
		{"client with 1 retry", func() redis.UniversalClient {
			o := good()
			o.MaxRetries = 1
			return redis.NewClient(o)
		}, "MaxRetries"},
		{"cluster ok", func() redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, ContextTimeoutEnabled: true, MaxRetries: -1})
		}, ""},
		{"cluster without context timeouts", func() redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, MaxRetries: -1})
		}, "ContextTimeoutEnabled"},
		{"cluster with retries", func() redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, ContextTimeoutEnabled: true, MaxRetries: 2})
		}, "MaxRetries"},
		{"ring ok", func() redis.UniversalClient {
			return redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}, ContextTimeoutEnabled: true, MaxRetries: -1})
		}, ""},
		{"ring with default retries", func() redis.UniversalClient {
			return redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}, ContextTimeoutEnabled: true})
		}, "MaxRetries"},
		{"unknown type", func() redis.UniversalClient { return otherClient{} }, "Client"},
		{"nil", func() redis.UniversalClient { return nil }, "Client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.make()
			if cl, ok := c.(interface{ Close() error }); ok && c != nil {
				if _, other := c.(otherClient); !other {
					defer cl.Close()
				}
			}
			err := CheckClient(c)
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field)
		})
	}
}

func TestNewRejectsBadClientOptions(t *testing.T) {
	redistest.NoLeaks(t)
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer c.Close()
	_, err := New(context.Background(), c, Config{})
	var ce *baldur.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "MaxRetries", ce.Field)

	c2 := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c2.Close()
	_, err = New(context.Background(), c2, Config{ThrottleTimeout: -time.Millisecond})
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "ThrottleTimeout", ce.Field)
	_, err = New(context.Background(), c2, Config{Breaker: blastConfigWithBadRatio()})
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "Breaker.FailureRatio", ce.Field)
}

func TestNewUnreachableAddress(t *testing.T) {
	redistest.NoLeaks(t)
	for _, tc := range []struct{ network, addr string }{
		{"unix", "/nonexistent/baldur/r.sock"},
		{"tcp", "127.0.0.1:1"}, // nothing listens on port 1: refused
	} {
		t.Run(tc.network, func(t *testing.T) {
			c := redis.NewClient(&redis.Options{Network: tc.network, Addr: tc.addr,
				ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1})
			defer c.Close()
			start := time.Now()
			_, err := New(context.Background(), c, Config{ControlTimeout: 100 * time.Millisecond})
			require.Less(t, time.Since(start), 2*time.Second)
			var ue *UnavailableError
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, tc.addr, ue.Addr)
			assert.Contains(t, err.Error(), tc.addr)
			assert.ErrorIs(t, err, ErrUnavailable)
		})
	}
}

func TestNewUnreachableBlackholedAddress(t *testing.T) {
	redistest.NoLeaks(t)
	s := shared.Get(t)
	p := redistest.NewProxy(t, "unix", s.Socket())
	p.Blackhole()
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c.Close()
	start := time.Now()
	_, err := New(context.Background(), c, Config{ControlTimeout: 50 * time.Millisecond})
	elapsed := time.Since(start)
	var ue *UnavailableError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, p.Addr(), ue.Addr)
	assert.Less(t, elapsed, time.Second, "bounded by ControlTimeout, not the 5 s ReadTimeout")
	p.Heal()
}

func TestCheckServerPolicy(t *testing.T) {
	redistest.NoLeaks(t)
	ctx := context.Background()
	t.Run("noeviction without AOF warns", func(t *testing.T) {
		s := shared.Get(t)
		log, buf := newLogger()
		b := newBackend(t, s.Client(t, nil), Config{Logger: log})
		got, err := b.CheckServer(ctx, ServerPolicy{})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, "noeviction", got[0].MaxmemoryPolicy)
		assert.Equal(t, "no", got[0].AppendOnly)
		assert.Contains(t, buf.String(), "appendonly is off")
	})
	t.Run("AOF on is quiet", func(t *testing.T) {
		s := redistest.Start(t, redistest.Options{AOF: true})
		log, buf := newLogger()
		b := newBackend(t, s.Client(t, nil), Config{Logger: log})
		got, err := b.CheckServer(ctx, ServerPolicy{})
		require.NoError(t, err)
		assert.Equal(t, "yes", got[0].AppendOnly)
		assert.Empty(t, buf.String())
	})
	t.Run("evicting policy is a config error", func(t *testing.T) {
		s := redistest.Start(t, redistest.Options{Policy: "allkeys-lru"})
		b := newBackend(t, s.Client(t, nil), Config{})
		_, err := b.CheckServer(ctx, ServerPolicy{Logger: discard()})
		var ce *baldur.ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, "maxmemory-policy", ce.Field)
		assert.Equal(t, "allkeys-lru", ce.Value)
		_, err = b.CheckServer(ctx, ServerPolicy{AllowEviction: true, Logger: discard()})
		require.NoError(t, err)
	})
	t.Run("CONFIG disabled falls back to INFO", func(t *testing.T) {
		s := redistest.Start(t, redistest.Options{Policy: "volatile-ttl", Args: []string{"--rename-command", "CONFIG", ""}})
		b := newBackend(t, s.Client(t, nil), Config{})
		_, err := b.CheckServer(ctx, ServerPolicy{Logger: discard()})
		var ce *baldur.ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, "volatile-ttl", ce.Value)
	})
	t.Run("server gone is unavailable", func(t *testing.T) {
		s := redistest.Start(t, redistest.Options{})
		b := newBackend(t, s.Client(t, nil), Config{ControlTimeout: 100 * time.Millisecond})
		s.Kill(t)
		_, err := b.CheckServer(ctx, ServerPolicy{Logger: discard()})
		assert.True(t, errors.Is(err, ErrUnavailable), "got %v", err)
	})
}
