package metrics_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/metrics"
	"github.com/baldur-go/baldur/registry"
)

// TestScrapeDuringTrafficAndReload scrapes the quickstart configuration
// while calls flow and the configuration is reloaded, under -race: every
// scrape must gather cleanly (no duplicate series, every metric consistent
// with its description) and see the same set of series.
func TestScrapeDuringTrafficAndReload(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	reg := registry.New(registry.WithClock(clk))
	cfg, err := registry.ReadConfigFile("../examples/quickstart/baldur.json")
	require.NoError(t, err)
	require.NoError(t, reg.Load(cfg))
	pr := prometheus.NewPedanticRegistry()
	require.NoError(t, pr.Register(metrics.NewCollector(reg, metrics.WithClock(clk))))
	first, err := pr.Gather()
	require.NoError(t, err)

	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				op := []string{"GET /api/recs", "GET /api/inventory", "GET /api/slow", "GET /api/reports"}[i%4]
				p := reg.Policy(op)
				c := baldur.Call{Operation: op, Key: "k" + strconv.Itoa(w*1_000_000+i%5000), Now: epoch}
				if tk, err := p.Admit(context.Background(), c); err == nil {
					tk.Release(baldur.Outcome{Result: baldur.Result(i % 2)})
				}
			}
		})
	}
	wg.Go(func() {
		for !stop.Load() {
			if !assert.NoError(t, reg.Load(cfg)) {
				return
			}
		}
	})
	for range 30 {
		mfs, err := pr.Gather()
		require.NoError(t, err)
		require.Equal(t, seriesCount(first), seriesCount(mfs))
	}
	stop.Store(true)
	wg.Wait()
}

func seriesCount(mfs []*dto.MetricFamily) int {
	n := 0
	for _, mf := range mfs {
		n += len(mf.GetMetric())
	}
	return n
}
