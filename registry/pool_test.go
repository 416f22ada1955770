package registry_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/bulkhead"
	"github.com/baldur-go/baldur/internal/pooltest"
	"github.com/baldur-go/baldur/registry"
)

const poolConfig = `{
	"bulkheads": {
		"upstream": {"pool": {"workers": 2, "queue_size": 1, "timeout": "2s", "retry_after": "3s"}},
		"db": {"max_concurrent": 4}
	},
	"policies": [
		{"name": "out", "operations": ["GET api.example.com"], "bulkhead": "upstream"},
		{"name": "db", "operations": ["/db.Store/Get"], "bulkhead": "db"}
	]
}`

func parse(t *testing.T, js string) registry.Config {
	t.Helper()
	cfg, err := registry.ParseConfig(strings.NewReader(js))
	require.NoError(t, err)
	return cfg
}

func poolOf(t *testing.T, r *registry.Registry, op string) *bulkhead.Pool {
	t.Helper()
	gates := r.Policy(op).Gates()
	require.Len(t, gates, 1)
	p, ok := gates[0].(*bulkhead.Pool)
	require.True(t, ok, "the bulkhead of %s is a %T", op, gates[0])
	return p
}

// waitGoroutines waits until at most n goroutines run: the workers of a
// closed pool exit once Close returned, but leave the count a moment later.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	pooltest.WaitFor(t, "the pools' workers to exit", func() bool { return runtime.NumGoroutine() <= n })
}

// A bulkhead with a pool section is a worker pool in its policy and in the
// bulkheads slot, so admin and metrics show it.
func TestLoadPoolBulkhead(t *testing.T) {
	t.Parallel()
	r := registry.New()
	require.NoError(t, r.Load(parse(t, poolConfig)))
	t.Cleanup(func() { require.NoError(t, r.Load(registry.Config{})) })
	p := poolOf(t, r, "GET api.example.com")
	cfg := p.Config()
	assert.Equal(t, "upstream", cfg.Name)
	assert.Equal(t, 2, cfg.Workers)
	assert.Equal(t, 1, cfg.QueueSize)
	assert.Equal(t, 2*time.Second, cfg.Timeout.D())
	assert.Equal(t, 3*time.Second, cfg.RetryAfter.D())

	bh, err := r.Bulkheads.Get().Get("upstream")
	require.NoError(t, err)
	assert.Same(t, p, bh)
	var kinds []string
	for _, st := range r.Bulkheads.Get().States() {
		kinds = append(kinds, st.Name+":"+st.Kind)
	}
	assert.Equal(t, []string{"db:semaphore", "upstream:pool"}, kinds)
	var rep baldur.CompartmentReporter = p
	assert.Equal(t, "pool", rep.CompartmentStates()[0].Kind)

	tk, err := r.Policy("GET api.example.com").Admit(context.Background(), baldur.Call{})
	require.NoError(t, err)
	require.True(t, tk.Runs(), "the policy runs its calls on the pool")
	require.NoError(t, tk.Run(context.Background(), func(context.Context) error { return nil }))
	tk.Release(baldur.Outcome{})
}

func TestLoadPoolErrorsNameTheField(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, spec, field string }{
		{"no workers", `{"pool": {"workers": 0}}`, "bulkheads.p.pool.workers"},
		{"negative queue", `{"pool": {"workers": 1, "queue_size": -1}}`, "bulkheads.p.pool.queue_size"},
		{"negative timeout", `{"pool": {"workers": 1, "timeout": "-1s"}}`, "bulkheads.p.pool.timeout"},
		{"unknown field", `{"pool": {"workers": 1, "max_wait": "1s"}}`, "bulkheads.p.pool.max_wait"},
		{"mixed with a semaphore", `{"max_concurrent": 3, "pool": {"workers": 1}}`, "bulkheads.p"},
		{"mixed with tiers", `{"tiers": {}, "pool": {"workers": 1}}`, "bulkheads.p"},
		{"retry_after outside", `{"retry_after": "1s", "pool": {"workers": 1}}`, "bulkheads.p"},
	} {
		t.Run(c.name, func(t *testing.T) {
			js := `{"bulkheads": {"p": ` + c.spec + `}, "policies": [{"name": "x", "bulkhead": "p"}]}`
			cfg, err := registry.ParseConfig(strings.NewReader(js))
			if err == nil {
				err = registry.New().Load(cfg)
			}
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce, "%v", err)
			assert.Equal(t, c.field, ce.Field, "%v", err)
		})
	}
}

// A reload keeps an unchanged pool; a changed one is built anew while the
// calls in flight finish on the old one, which closes once they are done.
// Not parallel: it counts goroutines.
func TestReloadRebuildsChangedPoolAndRetiresTheOld(t *testing.T) {
	base := runtime.NumGoroutine()
	r := registry.New()
	cfg := parse(t, poolConfig)
	require.NoError(t, r.Load(cfg))
	old := poolOf(t, r, "GET api.example.com")
	require.NoError(t, r.Load(parse(t, poolConfig)))
	require.Same(t, old, poolOf(t, r, "GET api.example.com"), "an unchanged pool is kept")

	// One call runs on the old pool across the reload, one is admitted
	// there and not yet run.
	ctx := context.Background()
	oldPolicy := r.Policy("GET api.example.com")
	running, finish, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	tk, err := oldPolicy.Admit(ctx, baldur.Call{})
	require.NoError(t, err)
	go func() {
		done <- tk.Run(ctx, func(context.Context) error { close(running); <-finish; return nil })
	}()
	<-running
	admitted, err := oldPolicy.Admit(ctx, baldur.Call{})
	require.NoError(t, err)

	up := cfg.Bulkheads["upstream"]
	up.Pool = &bulkhead.PoolConfig{Workers: 3, Timeout: baldur.Duration(time.Second)}
	cfg.Bulkheads["upstream"] = up
	require.NoError(t, r.Load(cfg))
	fresh := poolOf(t, r, "GET api.example.com")
	require.NotSame(t, old, fresh, "a changed pool is built anew")
	assert.Equal(t, 3, fresh.Config().Workers)
	bh, err := r.Bulkheads.Get().Get("upstream")
	require.NoError(t, err)
	assert.Same(t, fresh, bh, "the bulkheads slot shows the new pool")

	// The old pool still serves what it admitted.
	require.NoError(t, admitted.Run(ctx, func(context.Context) error { return nil }))
	admitted.Release(baldur.Outcome{})
	close(finish)
	require.NoError(t, <-done)
	tk.Release(baldur.Outcome{})
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Until its worker is back, the retired pool still admits (a
		// straggler holding the old policy is served); let that go.
		p, err := old.Admit(ctx, baldur.Call{})
		if err == bulkhead.ErrClosed {
			break
		}
		require.NoError(t, err)
		p.Release(baldur.Outcome{})
		require.False(t, time.Now().After(deadline), "the old pool did not close once drained")
		runtime.Gosched()
	}
	require.NoError(t, old.Close(), "its workers exited")

	// Dropping the pool retires the new one too; nothing is left running.
	require.NoError(t, r.Load(registry.Config{}))
	require.NoError(t, fresh.Close())
	waitGoroutines(t, base)
}

// A failed reload closes the pools it built for nothing. Not parallel: it
// counts goroutines.
func TestFailedReloadClosesItsPools(t *testing.T) {
	base := runtime.NumGoroutine()
	r := registry.New()
	cfg := parse(t, poolConfig)
	up := cfg.Bulkheads["upstream"]
	up.Pool = &bulkhead.PoolConfig{Workers: 64}
	cfg.Bulkheads["upstream"] = up
	cfg.DefaultPolicy = "nope"
	require.Error(t, r.Load(cfg))
	waitGoroutines(t, base)
}
