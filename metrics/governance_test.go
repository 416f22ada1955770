package metrics

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/registry"
)

func TestWindowLabel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{5 * time.Minute, "5m"},
		{time.Hour, "1h"},
		{72 * time.Hour, "72h"},
		{90 * time.Minute, "90m"},
		{90 * time.Second, "90s"},
		{1500 * time.Millisecond, "1.5s"},
		{0, "0s"},
		{-time.Minute, "-1m0s"},
	} {
		require.Equal(t, tc.want, windowLabel(tc.d), "%v", tc.d)
	}
}

// failingStore fails KillSwitches once broken is set.
type failingStore struct {
	governance.Store
	broken atomic.Bool
}

func (s *failingStore) KillSwitches(ctx context.Context) ([]governance.KillSwitch, error) {
	if s.broken.Load() {
		return nil, errors.New("store down")
	}
	return s.Store.KillSwitches(ctx)
}

// TestKillSwitchReadError: an unreadable store omits the gauge rather than
// report a wrong zero, and each failed read is counted.
func TestKillSwitchReadError(t *testing.T) {
	t.Parallel()
	store := &failingStore{Store: governance.NewMemoryStore()}
	gc, err := governance.New(governance.Config{Store: store})
	require.NoError(t, err)
	reg := registry.New()
	reg.Governance.Set(gc)
	c := NewCollector(reg).(*collector)

	require.Equal(t, 1, testutil.CollectAndCount(c, "baldur_kill_switches_active"))
	store.broken.Store(true)
	require.Equal(t, 0, testutil.CollectAndCount(c, "baldur_kill_switches_active"))
	require.Equal(t, 0, testutil.CollectAndCount(c, "baldur_kill_switches_active"))
	require.Equal(t, 3.0, testutil.ToFloat64(onlyCollectErrors{c}))
}

// onlyCollectErrors narrows a collector to baldur_collect_errors_total, so
// that testutil.ToFloat64 can read it.
type onlyCollectErrors struct{ c *collector }

func (o onlyCollectErrors) Describe(ch chan<- *prometheus.Desc) { ch <- o.c.d.collectErrors }

func (o onlyCollectErrors) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric)
	go func() {
		o.c.Collect(all)
		close(all)
	}()
	for m := range all {
		if m.Desc() == o.c.d.collectErrors {
			ch <- m
		}
	}
}
