package metrics

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/governance"
)

// killSwitchTimeout bounds the read of the kill switches from the
// governance store, so that a slow store cannot hang a scrape.
const killSwitchTimeout = time.Second

// auditReasons are the block reasons whose dropped audit records are
// reported; the checker audits blocks of these.
var auditReasons = [...]baldur.BlockReason{baldur.BlockKillSwitch, baldur.BlockEmergency, baldur.BlockErrorBudget}

// collectGovernance sends the metrics of the governance, emergency and
// error-budget slots, each only while its slot is filled.
func (c *collector) collectGovernance(ch chan<- prometheus.Metric) {
	if em, ok := c.reg.Emergency.SafeGet(); ok && em != nil {
		ch <- prometheus.MustNewConstMetric(c.d.emergencyLevel, prometheus.GaugeValue, float64(em.Level()))
	}
	if eb, ok := c.reg.ErrorBudgetService.SafeGet(); ok && eb != nil {
		st := eb.Status(c.clock.Now())
		ch <- prometheus.MustNewConstMetric(c.d.budgetRemaining, prometheus.GaugeValue, st.RemainingPct/100)
		seen := map[string]bool{}
		for _, br := range st.BurnRates {
			w := windowLabel(br.Window)
			if seen[w] {
				continue
			}
			seen[w] = true
			ch <- prometheus.MustNewConstMetric(c.d.burnRate, prometheus.GaugeValue, br.Rate, w)
		}
	}
	gov := c.reg.Governance.Get()
	if sb, ok := gov.(governance.Switchboard); ok {
		ctx, cancel := context.WithTimeout(context.Background(), killSwitchTimeout)
		ks, err := sb.KillSwitches(ctx)
		cancel()
		if err != nil {
			// Omitting the gauge beats reporting a wrong zero; the error
			// count says why it is missing.
			c.killSwitchErrors.Add(1)
		} else {
			ch <- prometheus.MustNewConstMetric(c.d.killSwitches, prometheus.GaugeValue, float64(len(ks)))
		}
		ch <- prometheus.MustNewConstMetric(c.d.collectErrors, prometheus.CounterValue, float64(c.killSwitchErrors.Load()), "kill_switches")
	}
	if ac, ok := gov.(governance.AuditCounter); ok {
		for _, r := range auditReasons {
			ch <- prometheus.MustNewConstMetric(c.d.auditDropped, prometheus.CounterValue, float64(ac.AuditDropped(r)), string(r))
		}
	}
}

// windowLabel writes d in its largest whole unit ("5m", "1h", "72h", "30s"),
// as people write burn-rate windows; other durations use Duration.String.
func windowLabel(d time.Duration) string {
	switch {
	case d <= 0:
		return d.String()
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}
