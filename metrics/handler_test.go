package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/metrics"
	"github.com/baldur-go/baldur/registry"
)

func TestHandlerServesCollectorAndRuntime(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(metrics.Handler(exampleRegistry(), metrics.WithNamespace("shop")))
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(body), `shop_rejections_total{gate="throttle",policy="api",reason="throttled"} 1`)
	require.Contains(t, string(body), "go_goroutines ")
	require.NotContains(t, string(body), "baldur_")
}

// TestCollectorRegisters: two collectors of different namespaces can
// share a registry; the same namespace twice is refused by the registry
// instead of producing duplicate series.
func TestCollectorRegisters(t *testing.T) {
	t.Parallel()
	reg := registry.New()
	pr := prometheus.NewPedanticRegistry()
	require.NoError(t, pr.Register(metrics.NewCollector(reg)))
	require.NoError(t, pr.Register(metrics.NewCollector(reg, metrics.WithNamespace("other"))))
	var already prometheus.AlreadyRegisteredError
	require.ErrorAs(t, pr.Register(metrics.NewCollector(reg)), &already)
	n, err := testutil.GatherAndCount(pr, "baldur_slot_set", "other_slot_set")
	require.NoError(t, err)
	require.Equal(t, 2*len(reg.Slots()), n)
}
