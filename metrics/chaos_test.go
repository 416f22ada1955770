package metrics_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/chaos"
	"github.com/baldur-go/baldur/metrics"
)

func TestChaosCollector(t *testing.T) {
	t.Parallel()
	sc, err := chaos.New(chaos.Config{})
	require.NoError(t, err)
	_, err = sc.KillAll(context.Background(), "drill")
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(metrics.NewChaosCollector(sc)))
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP baldur_chaos_active Experiments this replica's fault gates act on now.
# TYPE baldur_chaos_active gauge
baldur_chaos_active 0
# HELP baldur_chaos_injections_total Faults injected on this replica, by fault kind.
# TYPE baldur_chaos_injections_total counter
baldur_chaos_injections_total{fault="abort"} 0
baldur_chaos_injections_total{fault="error"} 0
baldur_chaos_injections_total{fault="latency"} 0
`), "baldur_chaos_active", "baldur_chaos_injections_total"))
	n, err := testutil.GatherAndCount(reg)
	require.NoError(t, err)
	require.Equal(t, 9+3+1+1+1+1, n)
}

// The chaos collector is registered beside the registry's.
func ExampleNewChaosCollector() {
	sc, _ := chaos.New(chaos.Config{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewChaosCollector(sc))
	n, _ := testutil.GatherAndCount(reg, "baldur_chaos_experiments")
	fmt.Println(n, "experiment states")
	// Output: 9 experiment states
}
