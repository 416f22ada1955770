package metrics

import (
	"context"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baldur-go/baldur/canary"
)

// Canary is what the canary metrics read of a rollout service;
// *canary.Service has it.
type Canary interface {
	List(ctx context.Context) []canary.Status
	Stats() canary.Stats
}

type canaryCollector struct {
	src Canary

	rollouts, stage, share, ackRatio, transitions, verdicts, windowRequests, windowRejection *prometheus.Desc
}

// NewCanaryCollector returns a prometheus.Collector of a canary service's
// state, read at scrape time: rollouts per config type and state, the
// active rollouts' stage, share and acknowledgement ratio, the last judged
// window's calls and rejection ratio per cohort, and the transitions and
// verdicts counted since start. Labels are bounded by the allow-listed
// config types, the states, the triggers and the two cohorts.
func NewCanaryCollector(src Canary, opts ...Option) prometheus.Collector {
	o := options{namespace: "baldur"}
	for _, opt := range opts {
		opt(&o)
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(o.namespace, "canary", name), help, labels, nil)
	}
	return &canaryCollector{src: src,
		rollouts:        d("rollouts", "Canary rollouts known to the service, by config type and state.", "config_type", "state"),
		stage:           d("stage", "The current stage (from 0) of the active rollout of a config type.", "config_type"),
		share:           d("share_ratio", "The candidate's share of keys in the active rollout of a config type, 0..1.", "config_type"),
		ackRatio:        d("apply_acks_ratio", "Live replicas that acknowledged the active rollout's stage, 0..1.", "config_type"),
		transitions:     d("transitions_total", "Rollout transitions, by target state and trigger.", "to", "trigger"),
		verdicts:        d("verdicts_total", "Judged windows, by verdict.", "verdict"),
		windowRequests:  d("window_requests", "Calls in the last judged window of the active rollout, by cohort.", "config_type", "cohort"),
		windowRejection: d("window_rejection_ratio", "Rejected calls over calls in the last judged window, by cohort.", "config_type", "cohort"),
	}
}

func (c *canaryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.rollouts, c.stage, c.share, c.ackRatio, c.transitions, c.verdicts, c.windowRequests, c.windowRejection} {
		ch <- d
	}
}

func (c *canaryCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	type key struct{ typ, state string }
	counts := map[key]int{}
	for _, st := range c.src.List(context.Background()) {
		counts[key{st.Type, st.Current.String()}]++
		if !st.Current.Active() {
			continue
		}
		gauge(c.stage, float64(st.StageIndex), st.Type)
		gauge(c.share, st.Share, st.Type)
		gauge(c.ackRatio, st.AckRatio, st.Type)
		if v := st.Verdict; v != nil {
			for _, s := range []struct {
				cohort string
				sum    canary.Summary
			}{{canary.Candidate.String(), v.Candidate}, {canary.Baseline.String(), v.Baseline}} {
				gauge(c.windowRequests, float64(s.sum.Requests), st.Type, s.cohort)
				gauge(c.windowRejection, s.sum.RejectionRate, st.Type, s.cohort)
			}
		}
	}
	for k, n := range counts {
		gauge(c.rollouts, float64(n), k.typ, k.state)
	}
	stats := c.src.Stats()
	for k, n := range stats.Transitions {
		to, trigger, _ := strings.Cut(k, "/")
		ch <- prometheus.MustNewConstMetric(c.transitions, prometheus.CounterValue, float64(n), to, trigger)
	}
	for v := range canary.Verdict(canary.NumVerdicts) {
		ch <- prometheus.MustNewConstMetric(c.verdicts, prometheus.CounterValue, float64(stats.Verdicts[v]), v.String())
	}
}
