package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
)

// breakerStates are the states baldur_breaker_partitions reports, each
// policy with a breaker getting all of them.
var breakerStates = [...]blast.State{
	blast.StateClosed, blast.StateHalfOpen, blast.StateOpen, blast.StateForcedOpen, blast.StateForcedClosed,
}

// gateStats sums what one policy's gates report; a policy may hold more than
// one gate of a type, and each label set may be sent only once per scrape.
// Gates are read through the capability interfaces of package baldur, so a
// new kind of gate is reported without a change here.
type gateStats struct {
	stages map[baldur.Stage]bool

	breakers   bool
	partitions [len(breakerStates)]int

	throttles                  bool
	keys, keysCap              int
	lossyEvictions, storeError uint64

	shareCaps    bool
	shareCapKeys int
}

// collectPolicies sends the metrics of every policy and its gates, and
// returns the occupancy of the bulkhead compartments its gates hold, for
// compartments the bulkheads slot does not list.
func (c *collector) collectPolicies(ch chan<- prometheus.Metric) []baldur.BulkheadState {
	var compartments []baldur.BulkheadState
	for _, name := range c.reg.PolicyNames() {
		p, ok := c.reg.PolicyByName(name)
		if !ok {
			continue // removed by a reload since PolicyNames
		}
		st := gateStats{stages: map[baldur.Stage]bool{}}
		for _, g := range p.Gates() {
			st.stages[g.Stage()] = true
			if b, ok := g.(baldur.BreakerReporter); ok {
				st.breakers = true
				st.addBreakers(b)
			}
			if k, ok := g.(baldur.KeyReporter); ok {
				st.addKeys(g.Stage(), k.KeyStats())
			}
			if cr, ok := g.(baldur.CompartmentReporter); ok {
				compartments = append(compartments, cr.CompartmentStates()...)
			}
		}
		c.sendPolicy(ch, p, &st)
	}
	return compartments
}

// addKeys counts a key table under the metric family of its stage: the
// throttle's keys, or the share cap's (the blast stage's per-key gate).
func (st *gateStats) addKeys(stage baldur.Stage, ks baldur.KeyStats) {
	switch stage {
	case baldur.StageThrottle:
		st.throttles = true
		st.keys += ks.Keys
		st.keysCap += ks.Cap
		st.lossyEvictions += ks.LossyEvictions
		st.storeError += ks.StoreErrors
	case baldur.StageBlast:
		st.shareCaps = true
		st.shareCapKeys += ks.Keys
	}
}

func (st *gateStats) addBreakers(b baldur.BreakerReporter) {
	// Partitions and OpenPartitions are two reads; a partition created in
	// between could make "closed" negative, so it is clamped.
	total := b.Partitions()
	notClosed := 0
	for _, ps := range b.OpenPartitions() {
		for i, s := range breakerStates {
			if ps.State == s.String() {
				st.partitions[i]++
				notClosed++
			}
		}
	}
	st.partitions[0] += max(total-notClosed, 0)
}

func (c *collector) sendPolicy(ch chan<- prometheus.Metric, p *baldur.Policy, st *gateStats) {
	name := p.Name()
	for _, r := range baldur.Reasons() {
		rejected, shadowed := p.Rejected(r), p.Shadowed(r)
		// A reason is reported when one of the policy's gates can give it
		// (deadline: the policy itself), or when it was ever counted.
		if !st.stages[r.Stage()] && r != baldur.ReasonDeadline && rejected == 0 && shadowed == 0 {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.d.rejections, prometheus.CounterValue, float64(rejected), name, r.Gate(), r.String())
		ch <- prometheus.MustNewConstMetric(c.d.shadowRejections, prometheus.CounterValue, float64(shadowed), name, r.Gate(), r.String())
	}
	if st.breakers {
		for i, s := range breakerStates {
			ch <- prometheus.MustNewConstMetric(c.d.breakerPartitions, prometheus.GaugeValue, float64(st.partitions[i]), name, s.String())
		}
	}
	if st.throttles {
		ch <- prometheus.MustNewConstMetric(c.d.throttleKeys, prometheus.GaugeValue, float64(st.keys), name)
		ch <- prometheus.MustNewConstMetric(c.d.throttleKeysCap, prometheus.GaugeValue, float64(st.keysCap), name)
		ch <- prometheus.MustNewConstMetric(c.d.throttleLossy, prometheus.CounterValue, float64(st.lossyEvictions), name)
		ch <- prometheus.MustNewConstMetric(c.d.throttleStoreErr, prometheus.CounterValue, float64(st.storeError), name)
	}
	if st.shareCaps {
		ch <- prometheus.MustNewConstMetric(c.d.shareCapKeys, prometheus.GaugeValue, float64(st.shareCapKeys), name)
	}
}
