package metrics

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baldur-go/baldur/chaos"
)

// ChaosSource is what the chaos collector reads; *chaos.Scheduler has it.
type ChaosSource interface {
	Stats() chaos.SchedulerStats
}

// chaosCollector reports a chaos scheduler's counters at scrape time.
type chaosCollector struct {
	src                                                  ChaosSource
	experiments, injections, wouldInject, stops, denials *prometheus.Desc
	leaseExpired, active, pollErrors                     *prometheus.Desc
}

// NewChaosCollector returns a prometheus.Collector of src's chaos metrics:
// baldur_chaos_experiments{state}, baldur_chaos_injections_total{fault},
// baldur_chaos_would_inject_total, baldur_chaos_stops_total{reason},
// baldur_chaos_guard_denials_total{reason},
// baldur_chaos_lease_expired_total, baldur_chaos_active and
// baldur_chaos_poll_errors_total. Labels are the package's fixed names
// (states, fault kinds, reasons), so cardinality is bounded. Register it
// beside NewCollector. Safe for concurrent use.
func NewChaosCollector(src ChaosSource, opts ...Option) prometheus.Collector {
	o := options{namespace: "baldur"}
	for _, opt := range opts {
		opt(&o)
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(o.namespace, "chaos", name), help, labels, nil)
	}
	return &chaosCollector{src: src,
		experiments:  d("experiments", "Experiments the scheduler keeps, by state.", "state"),
		injections:   d("injections_total", "Faults injected on this replica, by fault kind.", "fault"),
		wouldInject:  d("would_inject_total", "Faults dry runs would have injected on this replica."),
		stops:        d("stops_total", "Experiments ended early, by stop reason.", "reason"),
		denials:      d("guard_denials_total", "Refusals and aborts by the safety guard, by reason.", "reason"),
		leaseExpired: d("lease_expired_total", "Times this replica's copy of the active set expired unrefreshed and injection stopped."),
		active:       d("active", "Experiments this replica's fault gates act on now."),
		pollErrors:   d("poll_errors_total", "Failed loads of the fleet's active set."),
	}
}

func (c *chaosCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.experiments, c.injections, c.wouldInject, c.stops, c.denials, c.leaseExpired, c.active, c.pollErrors} {
		ch <- d
	}
}

func (c *chaosCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src == nil {
		return
	}
	st := c.src.Stats()
	for _, s := range []chaos.State{chaos.StateAwaitingApproval, chaos.StateScheduled, chaos.StateBefore, chaos.StateDuring,
		chaos.StateAfter, chaos.StateDone, chaos.StateStopped, chaos.StateAborted, chaos.StateRefused} {
		ch <- prometheus.MustNewConstMetric(c.experiments, prometheus.GaugeValue, float64(st.Experiments[s]), string(s))
	}
	for _, k := range []chaos.FaultKind{chaos.FaultLatency, chaos.FaultError, chaos.FaultAbort} {
		ch <- prometheus.MustNewConstMetric(c.injections, prometheus.CounterValue, float64(st.Injector.Injected[k]), string(k))
	}
	ch <- prometheus.MustNewConstMetric(c.wouldInject, prometheus.CounterValue, float64(st.Injector.WouldInject))
	for _, m := range []struct {
		d *prometheus.Desc
		v map[string]uint64
	}{{c.stops, st.Stops}, {c.denials, st.GuardDenials}} {
		keys := make([]string, 0, len(m.v))
		for k := range m.v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.v[k]), k)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.leaseExpired, prometheus.CounterValue, float64(st.Injector.LeaseExpired))
	ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(st.Injector.Active))
	ch <- prometheus.MustNewConstMetric(c.pollErrors, prometheus.CounterValue, float64(st.PollErrors))
}
