package notify

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// reasons are the suppression reasons in pipeline order; index 0 is
// "delivered".
var reasons = []SuppressReason{SuppressNone, SuppressInvalid, SuppressDisabled, SuppressSilenced, SuppressInhibited,
	SuppressCooldown, SuppressGrouped, SuppressRateLimited, SuppressCoalesced, SuppressLogOnly, SuppressRefused, SuppressNotOpen}

func reasonIndex(r SuppressReason) int {
	for i, x := range reasons {
		if x == r {
			return i
		}
	}
	return 0
}

type metrics struct {
	results [NumPriorities][12]atomic.Uint64
	chans   []*channel

	escalations, keyOverflow, localCooldowns, fleetCooldowns atomic.Uint64
	claimErrors, overLimit, channelLimited                   atomic.Uint64
}

func (m *metrics) init(chs []*channel) { m.chans = chs }

func (m *metrics) result(r *Result) {
	p := r.Priority
	if !p.Valid() {
		p = PriorityInfo
	}
	i := 0
	if r.Suppressed != SuppressNone {
		i = reasonIndex(r.Suppressed)
	}
	m.results[p][i].Add(1)
}

// Stats are the pipeline's counters.
type Stats struct {
	// Results counts results by priority and reason ("delivered" for
	// none).
	Results map[string]map[string]uint64
	// Escalations counts notifications whose priority was raised.
	Escalations uint64
	// LocalCooldowns counts sends under this replica's own cooldown: no
	// Claims configured, so every replica may send the key once.
	LocalCooldowns uint64
	// FleetCooldowns counts notifications suppressed because another
	// replica held the key's claim.
	FleetCooldowns uint64
	// ClaimErrors counts failed claim calls; each fell back to the local
	// cooldown.
	ClaimErrors uint64
	// OverLimit counts CRITICAL notifications sent over the spent rate
	// limit (the first of each coalescing window).
	OverLimit uint64
	// KeyOverflow counts notifications sent without a cooldown entry
	// because the key table was full of live keys.
	KeyOverflow uint64
}

// Stats returns the counters.
func (p *Pipeline) Stats() Stats {
	m := &p.metrics
	st := Stats{Results: map[string]map[string]uint64{}, Escalations: m.escalations.Load(), LocalCooldowns: m.localCooldowns.Load(),
		FleetCooldowns: m.fleetCooldowns.Load(), ClaimErrors: m.claimErrors.Load(), OverLimit: m.overLimit.Load(), KeyOverflow: m.keyOverflow.Load()}
	for pr := range NumPriorities {
		row := map[string]uint64{}
		for i, r := range reasons {
			if v := m.results[pr][i].Load(); v > 0 {
				row[reasonLabel(r)] = v
			}
		}
		st.Results[Priority(pr).String()] = row
	}
	return st
}

func reasonLabel(r SuppressReason) string {
	if r == SuppressNone {
		return "delivered"
	}
	return string(r)
}

var (
	descResults    = prometheus.NewDesc("baldur_notifications_total", "Notifications by priority (after escalation), result (delivered, suppressed) and suppression reason.", []string{"priority", "result", "reason"}, nil)
	descDeliveries = prometheus.NewDesc("baldur_notification_deliveries_total", "Sends by channel and result (sent, failed, dropped, refused).", []string{"channel", "result"}, nil)
	descDepth      = prometheus.NewDesc("baldur_notification_queue_depth", "Messages queued per channel.", []string{"channel"}, nil)
	descBreaker    = prometheus.NewDesc("baldur_notification_breaker_open", "1 while the channel's breaker rejects sends.", []string{"channel"}, nil)
	descEscalation = prometheus.NewDesc("baldur_notification_escalations_total", "Notifications whose priority was raised (emergency floor or repetition).", nil, nil)
	descCooldowns  = prometheus.NewDesc("baldur_notification_cooldowns_total", "Cooldown decisions: local (no fleet claims: per replica), fleet (another replica held the claim), claim_error (fell back to local).", []string{"kind"}, nil)
)

// Describe implements prometheus.Collector.
func (p *Pipeline) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descResults, descDeliveries, descDepth, descBreaker, descEscalation, descCooldowns} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. Labels are priorities, reasons
// and the configured channel names: bounded.
func (p *Pipeline) Collect(ch chan<- prometheus.Metric) {
	m := &p.metrics
	for pr := range NumPriorities {
		for i, r := range reasons {
			result := "suppressed"
			if r == SuppressNone {
				result = "delivered"
			}
			ch <- prometheus.MustNewConstMetric(descResults, prometheus.CounterValue, float64(m.results[pr][i].Load()), Priority(pr).String(), result, reasonLabel(r))
		}
	}
	for _, c := range p.channels {
		for _, r := range []struct {
			name string
			v    *atomic.Uint64
		}{{"sent", &c.sent}, {"failed", &c.failed}, {"dropped", &c.dropped}, {"refused", &c.refused}} {
			ch <- prometheus.MustNewConstMetric(descDeliveries, prometheus.CounterValue, float64(r.v.Load()), c.name, r.name)
		}
		ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(c.depth()), c.name)
		open := 0.0
		if c.hs != nil && c.hs.breakerOpen() {
			open = 1
		}
		ch <- prometheus.MustNewConstMetric(descBreaker, prometheus.GaugeValue, open, c.name)
	}
	ch <- prometheus.MustNewConstMetric(descEscalation, prometheus.CounterValue, float64(m.escalations.Load()))
	ch <- prometheus.MustNewConstMetric(descCooldowns, prometheus.CounterValue, float64(m.localCooldowns.Load()), "local")
	ch <- prometheus.MustNewConstMetric(descCooldowns, prometheus.CounterValue, float64(m.fleetCooldowns.Load()), "fleet")
	ch <- prometheus.MustNewConstMetric(descCooldowns, prometheus.CounterValue, float64(m.claimErrors.Load()), "claim_error")
}
