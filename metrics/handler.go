package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/baldur-go/baldur/registry"
)

// Handler returns an http.Handler that serves, in the Prometheus exposition
// formats, a fresh prometheus.Registry holding NewCollector(reg, opts...)
// and the Go runtime and process collectors. It is safe for concurrent use.
// Use NewCollector instead to add the metrics to a registry of your own.
func Handler(reg *registry.Registry, opts ...Option) http.Handler {
	pr := prometheus.NewRegistry()
	pr.MustRegister(
		NewCollector(reg, opts...),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(pr, promhttp.HandlerOpts{
		// One unreadable metric should not blank the whole page.
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      pr,
	})
}
