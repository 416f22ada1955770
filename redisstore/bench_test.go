package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/throttle"
	"github.com/redis/go-redis/v9"
)

// BenchmarkGCRATake is one take over the unix socket (one round trip).
func BenchmarkGCRATake(b *testing.B) {
	s := shared.Get(b)
	c := s.Client(b, nil)
	ctx := context.Background()
	be, err := New(ctx, c, Config{ThrottleTimeout: time.Second, Scripts: []*Script{GCRAScript}})
	if err != nil {
		b.Fatal(err)
	}
	g, _ := NewGCRA(be.Guard("bench", ClassThrottle), GCRAConfig{})
	l, _ := throttle.NewLimit(1e9, 1<<20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Take(ctx, "bench:gcra", time.Time{}, l, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGuardOpen is a call answered by the open breaker.
func BenchmarkGuardOpen(b *testing.B) {
	s := shared.Get(b)
	ctx := context.Background()
	be, err := New(ctx, s.Client(b, nil), Config{Logger: discard()})
	if err != nil {
		b.Fatal(err)
	}
	g := be.Guard("open", ClassThrottle)
	be.breakers.ForceOpen(blast.Partition{Key: g.Name()}, time.Hour)
	fn := func(context.Context, redis.UniversalClient) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		if g.Do(ctx, fn) != ErrBreakerOpen {
			b.Fatal("admitted")
		}
	}
}
