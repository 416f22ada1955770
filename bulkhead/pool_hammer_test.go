package bulkhead_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/bulkhead"
	"github.com/baldur-go/baldur/internal/pooltest"
)

// Many callers admitting through a policy, running, timing out, cancelling
// and releasing at once never run more than Workers and leave the pool
// empty.
func TestPoolTicketHammer(t *testing.T) {
	t.Parallel()
	const workers, queue = 3, 2
	p := pooltest.New(t, bulkhead.PoolConfig{Name: "hammer", Workers: workers, QueueSize: queue})
	pol, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "hammer", Gates: []baldur.Gate{p}})
	require.NoError(t, err)
	var peak pooltest.Peak
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				ctx, cancel := context.WithCancel(context.Background())
				tk, err := pol.Admit(ctx, baldur.Call{})
				if err != nil {
					assert.ErrorIs(t, err, bulkhead.ErrFull)
					cancel()
					continue
				}
				switch (g + i) % 4 {
				case 0: // released without running
				case 1: // cancelled before running
					cancel()
					assert.ErrorIs(t, tk.Run(ctx, func(context.Context) error { return nil }), context.Canceled)
				default:
					_ = tk.Run(ctx, func(context.Context) error { peak.Inside(); return nil })
				}
				tk.Release(baldur.Outcome{})
				cancel()
			}
		}()
	}
	wg.Wait()
	pooltest.WaitFor(t, "drained", func() bool { return pooltest.InFlight(p) == 0 })
	assert.LessOrEqual(t, peak.Most(), workers)
}
