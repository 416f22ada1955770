package dlq_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/dlq"
)

// TestMetricsDomainsFromConfig: labels are the configured domains and
// "other", whatever domains traffic brings.
func TestMetricsDomainsFromConfig(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(t0)
	repo := dlq.NewMemory(dlq.MemoryConfig{Clock: clk})
	q := newQueue(t, dlq.Config{Repository: repo, Clock: clk, Domains: []dlq.Domain{{Name: "payments"}}})
	for _, d := range []string{"payments", "payments", "tenant-1234", "tenant-5678"} {
		_, err := q.Capture(context.Background(), dlq.Entry{Domain: d})
		require.NoError(t, err)
	}
	closeNow(t, q)
	clk.Advance(90 * time.Second)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(q))
	want := `
# HELP baldur_dlq_captured_total Failed calls captured into the outbox.
# TYPE baldur_dlq_captured_total counter
baldur_dlq_captured_total{domain="other"} 2
baldur_dlq_captured_total{domain="payments"} 2
# HELP baldur_dlq_oldest_pending_age_seconds Age of the oldest pending entry.
# TYPE baldur_dlq_oldest_pending_age_seconds gauge
baldur_dlq_oldest_pending_age_seconds{domain="other"} 90
baldur_dlq_oldest_pending_age_seconds{domain="payments"} 90
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "baldur_dlq_captured_total", "baldur_dlq_oldest_pending_age_seconds"))
	n, err := testutil.GatherAndCount(reg, "baldur_dlq_entries")
	require.NoError(t, err)
	assert.Equal(t, 2*dlq.NumStatuses, n, "two domain labels × four statuses")
	out, err := testutil.CollectAndLint(q)
	require.NoError(t, err)
	assert.Empty(t, out)
}
