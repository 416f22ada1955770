package watchdog_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/watchdog"
)

// TestCollector: the metrics read the runner's state: the last pass's
// time, passes by result, actions by check and action, the role and the
// brake per check; subjects never become labels.
func TestCollector(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewFake(t0)
	w := newWorld("subject-1", "subject-2")
	w.page = true
	r := newRunner(t, clk, func(c *watchdog.Config) { c.MaxActionsPerHour = 1 }, &check{name: "c", w: w})
	c := r.Collector()
	assert.Equal(t, 0.0, gauge(t, c, "baldur_watchdog_last_pass_timestamp_seconds"), "0 before the first pass")
	clk.Advance(time.Second)
	_, err := r.Tick(ctx)
	require.NoError(t, err)
	_, err = r.DryRunTick(ctx)
	require.NoError(t, err)
	assert.Equal(t, float64(t0.Add(time.Second).Unix()), gauge(t, c, "baldur_watchdog_last_pass_timestamp_seconds"))
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP baldur_watchdog_actions_total Actions the watchdog applied, by check and action.
# TYPE baldur_watchdog_actions_total counter
baldur_watchdog_actions_total{action="fix",check="c"} 1
# HELP baldur_watchdog_brake_engaged 1 while the check's remediation brake is engaged.
# TYPE baldur_watchdog_brake_engaged gauge
baldur_watchdog_brake_engaged{check="c"} 1
# HELP baldur_watchdog_leader 1 while this replica acts for the check (leader, or a local check).
# TYPE baldur_watchdog_leader gauge
baldur_watchdog_leader{check="c"} 1
# HELP baldur_watchdog_passes_total Watchdog passes by result (ok, failed, dry_run).
# TYPE baldur_watchdog_passes_total counter
baldur_watchdog_passes_total{result="dry_run"} 1
baldur_watchdog_passes_total{result="failed"} 0
baldur_watchdog_passes_total{result="ok"} 1
# HELP baldur_watchdog_pages_total Incident notifications sent (paged, resolved).
# TYPE baldur_watchdog_pages_total counter
baldur_watchdog_pages_total{kind="paged"} 3
baldur_watchdog_pages_total{kind="resolved"} 0
`), "baldur_watchdog_actions_total", "baldur_watchdog_brake_engaged", "baldur_watchdog_leader", "baldur_watchdog_passes_total", "baldur_watchdog_pages_total"))
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	assert.Empty(t, problems)
	out, err := testutil.CollectAndFormat(c, expfmt.TypeTextPlain)
	require.NoError(t, err)
	assert.NotContains(t, string(out), "subject-1", "subjects are never labels")
}

// gauge gathers c and returns the value of the unlabelled gauge name.
func gauge(t *testing.T, c prometheus.Collector, name string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			require.Len(t, mf.GetMetric(), 1)
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
