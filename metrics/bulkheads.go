package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/baldur-go/baldur"
)

// collectBulkheads sends the occupancy of every compartment of the
// bulkheads slot, then of those the policies' gates hold that the slot does
// not list (a registry of the user's own, say). A name is sent once.
func (c *collector) collectBulkheads(ch chan<- prometheus.Metric, fromGates []baldur.BulkheadState) {
	seen := map[string]bool{}
	send := func(s baldur.BulkheadState) {
		if seen[s.Name] {
			return
		}
		seen[s.Name] = true
		ch <- prometheus.MustNewConstMetric(c.d.bulkheadActive, prometheus.GaugeValue, float64(s.Active), s.Name)
		ch <- prometheus.MustNewConstMetric(c.d.bulkheadMax, prometheus.GaugeValue, float64(s.MaxConcurrent), s.Name)
		ch <- prometheus.MustNewConstMetric(c.d.bulkheadWaiting, prometheus.GaugeValue, float64(s.Waiting), s.Name)
		ch <- prometheus.MustNewConstMetric(c.d.bulkheadUtilization, prometheus.GaugeValue, s.Utilization, s.Name)
		ch <- prometheus.MustNewConstMetric(c.d.bulkheadRejected, prometheus.CounterValue, float64(s.Rejected), s.Name)
	}
	if bhs, ok := c.reg.Bulkheads.SafeGet(); ok && bhs != nil {
		for _, s := range bhs.States() {
			send(s)
		}
	}
	for _, s := range fromGates {
		send(s)
	}
}
