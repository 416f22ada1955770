package bulkhead

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

func TestRegistry(t *testing.T) {
	t.Parallel()
	var r Registry // the zero Registry is ready
	_, err := r.Get("db")
	require.ErrorContains(t, err, "none registered", "Get on empty registry")
	db, err := r.GetOrCreate("db", Config{MaxConcurrent: 12, MaxWait: baldur.Duration(time.Second)})
	require.NoError(t, err)
	again, err := r.GetOrCreate("db", Config{Name: "db", MaxConcurrent: 12, MaxWait: baldur.Duration(time.Second), RetryAfter: baldur.Duration(DefaultRetryAfter)})
	require.NoError(t, err, "same config")
	require.Same(t, db, again, "same config gave another compartment")
	pool, err := r.GetOrCreatePool("render", PoolConfig{Workers: 2})
	require.NoError(t, err)
	defer pool.Close()
	p2, err := r.GetOrCreatePool("render", PoolConfig{Workers: 2})
	require.NoError(t, err, "same pool config")
	require.Same(t, pool, p2, "same pool config did not return the same pool")
	_, err = r.GetOrCreate("api", Config{MaxConcurrent: 1})
	require.NoError(t, err)

	b, err := r.Get("db")
	require.NoError(t, err, "Get(db)")
	require.Same(t, db, b, "Get(db) = %v", b)
	_, err = r.Get("cache")
	var ue *UnknownError
	require.ErrorAs(t, err, &ue, "unknown: %v", err)
	require.Equal(t, "cache", ue.Name, "unknown: %v", err)
	require.Equal(t, []string{"api", "db", "render"}, ue.Registered, "unknown: %v", err)
	require.EqualError(t, err, `bulkhead: unknown compartment "cache" (registered: api, db, render)`)
	require.Equal(t, []string{"api", "db", "render"}, r.Names(), "Names")

	p, _ := db.Acquire(context.Background())
	defer p.Release(baldur.Outcome{})
	states := r.States()
	require.Len(t, states, 3, "States = %+v", states)
	require.Equal(t, "db", states[1].Name, "States = %+v", states)
	require.Equal(t, 1, states[1].Active, "States = %+v", states)
	require.Equal(t, 12, states[1].MaxConcurrent, "States = %+v", states)
	require.Equal(t, "pool", states[2].Kind, "States = %+v", states)
}

func TestRegistryConflicts(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	fake := clock.NewFake(time.Unix(0, 0))
	_, err := r.GetOrCreate("db", Config{MaxConcurrent: 12, Clock: fake})
	require.NoError(t, err)
	p, err := r.GetOrCreatePool("pool", PoolConfig{Workers: 1, Clock: fake})
	require.NoError(t, err)
	defer p.Close()
	tests := []struct {
		name  string
		do    func() error
		field string
	}{
		{"max", func() error { _, err := r.GetOrCreate("db", Config{MaxConcurrent: 13, Clock: fake}); return err }, "MaxConcurrent"},
		{"wait", func() error {
			_, err := r.GetOrCreate("db", Config{MaxConcurrent: 12, MaxWait: 1, Clock: fake})
			return err
		}, "MaxWait"},
		{"retry", func() error {
			_, err := r.GetOrCreate("db", Config{MaxConcurrent: 12, RetryAfter: baldur.Duration(2 * time.Second), Clock: fake})
			return err
		}, "RetryAfter"},
		{"clock", func() error { _, err := r.GetOrCreate("db", Config{MaxConcurrent: 12}); return err }, "Clock"},
		{"kind", func() error { _, err := r.GetOrCreatePool("db", PoolConfig{Workers: 1}); return err }, "Kind"},
		{"pool kind", func() error { _, err := r.GetOrCreate("pool", Config{MaxConcurrent: 1}); return err }, "Kind"},
		{"workers", func() error { _, err := r.GetOrCreatePool("pool", PoolConfig{Workers: 2, Clock: fake}); return err }, "Workers"},
		{"queue", func() error {
			_, err := r.GetOrCreatePool("pool", PoolConfig{Workers: 1, QueueSize: 1, Clock: fake})
			return err
		}, "QueueSize"},
		{"name mismatch", func() error { _, err := r.GetOrCreate("db", Config{Name: "other", MaxConcurrent: 12}); return err }, "Name"},
		{"empty name", func() error { _, err := r.GetOrCreate("", Config{MaxConcurrent: 12}); return err }, "Name"},
		{"invalid", func() error { _, err := r.GetOrCreate("new", Config{}); return err }, "MaxConcurrent"},
		{"register taken", func() error {
			return r.Register(mustNew(t, Config{Name: "db", MaxConcurrent: 1}))
		}, "Name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ce *baldur.ConfigError
			err := tt.do()
			require.ErrorAs(t, err, &ce, "got %v, want ConfigError on %s", err, tt.field)
			require.Equal(t, tt.field, ce.Field, "got %v, want ConfigError on %s", err, tt.field)
		})
	}
	require.Len(t, r.Names(), 2, "failed calls registered something")
}

func TestRegistryResizedConfig(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	s, _ := r.GetOrCreate("db", Config{MaxConcurrent: 2})
	_ = s.Resize(4)
	got, err := r.GetOrCreate("db", Config{MaxConcurrent: 4})
	require.NoError(t, err, "current config")
	require.Same(t, s, got, "current config")
	_, err = r.GetOrCreate("db", Config{MaxConcurrent: 2})
	require.Error(t, err, "stale config accepted")
}

func TestRegistryConcurrentGetOrCreate(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	var wg sync.WaitGroup
	got := make([]*Semaphore, 50)
	for i := range got {
		wg.Go(func() {
			s, err := r.GetOrCreate("db", Config{MaxConcurrent: 3})
			assert.NoError(t, err)
			got[i] = s
			_ = r.States()
		})
	}
	wg.Wait()
	for _, s := range got {
		require.Same(t, got[0], s, "GetOrCreate raced into two instances")
	}
}

func TestRegistryRegisterTiered(t *testing.T) {
	t.Parallel()
	g, err := NewTiered(TieredConfig{Name: "api"})
	require.NoError(t, err)
	r := NewRegistry()
	for _, s := range g.Compartments() {
		require.NoError(t, r.Register(s))
		require.NoError(t, r.Register(s), "re-registering the same compartment")
	}
	require.Equal(t, "api.critical,api.non_essential,api.standard", strings.Join(r.Names(), ","))
}
