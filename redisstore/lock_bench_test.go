package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/baldur-go/baldur/lock"
)

// BenchmarkLockCycle is acquire + release of one namespace: on Redis over
// the unix socket (two round trips) and, as the baseline, lock.Memory.
func BenchmarkLockCycle(b *testing.B) {
	ctx := context.Background()
	mem, _ := lock.NewMemory(lock.MemoryConfig{})
	s := shared.Get(b)
	be, err := New(ctx, s.Client(b, nil), Config{Scripts: LockScripts, Logger: discard()})
	if err != nil {
		b.Fatal(err)
	}
	rl, err := NewLock(ctx, be, LockConfig{Prefix: "bench:", Server: ServerPolicy{Logger: discard()}})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		l    lock.Fenced
	}{{"memory", mem}, {"redis", rl}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l, held, err := bc.l.AcquireFenced(ctx, "ns", "s", time.Minute, false)
				if err != nil || !held {
					b.Fatal(held, err)
				}
				if err := bc.l.ReleaseFenced(ctx, "ns", "s", l.Token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMembershipReplicas is what a fleet throttle's fallback pays for
// the replica count: one atomic load.
func BenchmarkMembershipReplicas(b *testing.B) {
	s := shared.Get(b)
	be, err := New(context.Background(), s.Client(b, nil), Config{Logger: discard()})
	if err != nil {
		b.Fatal(err)
	}
	m, _ := NewMembership(be, MembershipConfig{ID: "bench"})
	b.ReportAllocs()
	for b.Loop() {
		if m.Replicas() < 1 {
			b.Fatal()
		}
	}
}
