package bulkhead

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

func TestRegistry(t *testing.T) {
	t.Parallel()
	var r Registry // the zero Registry is ready
	if _, err := r.Get("db"); err == nil || !strings.Contains(err.Error(), "none registered") {
		t.Fatalf("Get on empty registry: %v", err)
	}
	db, err := r.GetOrCreate("db", Config{MaxConcurrent: 12, MaxWait: baldur.Duration(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	again, err := r.GetOrCreate("db", Config{Name: "db", MaxConcurrent: 12, MaxWait: baldur.Duration(time.Second), RetryAfter: baldur.Duration(DefaultRetryAfter)})
	if err != nil || again != db {
		t.Fatalf("same config gave %p, %v; want %p", again, err, db)
	}
	pool, err := r.GetOrCreatePool("render", PoolConfig{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if p2, err := r.GetOrCreatePool("render", PoolConfig{Workers: 2}); err != nil || p2 != pool {
		t.Fatal("same pool config did not return the same pool")
	}
	if _, err := r.GetOrCreate("api", Config{MaxConcurrent: 1}); err != nil {
		t.Fatal(err)
	}

	b, err := r.Get("db")
	if err != nil || b != baldur.Bulkhead(db) {
		t.Fatalf("Get(db) = %v, %v", b, err)
	}
	_, err = r.Get("cache")
	var ue *UnknownError
	if !errors.As(err, &ue) || ue.Name != "cache" || strings.Join(ue.Registered, ",") != "api,db,render" {
		t.Fatalf("unknown: %v", err)
	}
	if want := `bulkhead: unknown compartment "cache" (registered: api, db, render)`; err.Error() != want {
		t.Fatalf("error %q", err)
	}
	if got := strings.Join(r.Names(), ","); got != "api,db,render" {
		t.Fatalf("Names = %s", got)
	}

	p, _ := db.Acquire(context.Background())
	defer p.Release(baldur.Outcome{})
	states := r.States()
	if len(states) != 3 || states[1].Name != "db" || states[1].Active != 1 || states[1].MaxConcurrent != 12 || states[2].Kind != "pool" {
		t.Fatalf("States = %+v", states)
	}
}

func TestRegistryConflicts(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	fake := clock.NewFake(time.Unix(0, 0))
	if _, err := r.GetOrCreate("db", Config{MaxConcurrent: 12, Clock: fake}); err != nil {
		t.Fatal(err)
	}
	p, err := r.GetOrCreatePool("pool", PoolConfig{Workers: 1, Clock: fake})
	if err != nil {
		t.Fatal(err)
	}
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
			if err := tt.do(); !errors.As(err, &ce) || ce.Field != tt.field {
				t.Fatalf("got %v, want ConfigError on %s", err, tt.field)
			}
		})
	}
	if len(r.Names()) != 2 {
		t.Fatalf("failed calls registered something: %v", r.Names())
	}
}

func TestRegistryResizedConfig(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	s, _ := r.GetOrCreate("db", Config{MaxConcurrent: 2})
	_ = s.Resize(4)
	if got, err := r.GetOrCreate("db", Config{MaxConcurrent: 4}); err != nil || got != s {
		t.Fatalf("current config: %v", err)
	}
	if _, err := r.GetOrCreate("db", Config{MaxConcurrent: 2}); err == nil {
		t.Fatal("stale config accepted")
	}
}

func TestRegistryConcurrentGetOrCreate(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	var wg sync.WaitGroup
	got := make([]*Semaphore, 50)
	for i := range got {
		wg.Go(func() {
			s, err := r.GetOrCreate("db", Config{MaxConcurrent: 3})
			if err != nil {
				t.Error(err)
			}
			got[i] = s
			_ = r.States()
		})
	}
	wg.Wait()
	for _, s := range got {
		if s != got[0] {
			t.Fatal("GetOrCreate raced into two instances")
		}
	}
}

func TestRegistryRegisterTiered(t *testing.T) {
	t.Parallel()
	g, err := NewTiered(TieredConfig{Name: "api"})
	if err != nil {
		t.Fatal(err)
	}
	r := NewRegistry()
	for _, s := range g.Compartments() {
		if err := r.Register(s); err != nil {
			t.Fatal(err)
		}
		if err := r.Register(s); err != nil {
			t.Fatalf("re-registering the same compartment: %v", err)
		}
	}
	if got := strings.Join(r.Names(), ","); got != "api.critical,api.non_essential,api.standard" {
		t.Fatal(got)
	}
}
