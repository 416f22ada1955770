package chaos_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/chaos"
)

// Calls admitted on many goroutines while the scheduler installs, stops,
// kills and restarts experiments: no race (-race), every permit released
// once, and after the kill nothing is injected.
func TestHammerAdmitWhileTheSetChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *chaos.Config) { c.MaxRate = 0.5 })
	e.toDuring(t, errorExp("h1", 0.5))
	obs, fault := e.inj.Gates("api")
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "api", Gates: []baldur.Gate{obs, fault}})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls atomic.Int64
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				tk, err := p.Admit(context.Background(), call(e.clk.Now(), keyOf(g*100000+i%500)))
				if err == nil {
					tk.Release(baldur.Outcome{Result: baldur.Success, Latency: time.Millisecond})
				}
				calls.Add(1)
			}
		}()
	}
	ctx := context.Background()
	waitCalls := func() {
		n := calls.Load()
		require.Eventually(t, func() bool { return calls.Load() > n+100 }, 10*time.Second, time.Millisecond)
	}
	for i := range 20 {
		waitCalls()
		e.advance(time.Second)
		_, _ = e.sc.Generate(ctx, "h1")
		_ = e.sc.Stats()
		if i == 10 {
			_, _ = e.sc.KillAll(ctx, "hammer")
		}
	}
	close(stop)
	wg.Wait()
	assert.Positive(t, calls.Load())
	assert.Empty(t, injectingIDs(e))
	assert.Empty(t, e.inj.Active())
}
