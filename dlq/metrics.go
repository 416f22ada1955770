package dlq

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// OtherDomain is the metric label of every domain the configuration does
// not name: labels come from the configuration, never from traffic.
const OtherDomain = "other"

var (
	descEntries  = prometheus.NewDesc("baldur_dlq_entries", "Dead-letter entries by domain and status (read from the repository at scrape time).", []string{"domain", "status"}, nil)
	descCaptured = prometheus.NewDesc("baldur_dlq_captured_total", "Failed calls captured into the outbox.", []string{"domain"}, nil)
	descDropped  = prometheus.NewDesc("baldur_dlq_dropped_total", "Entries or payloads dropped, by reason (overflow, expired, mask_error, outbox_full, spill_full).", []string{"domain", "reason"}, nil)
	descReplays  = prometheus.NewDesc("baldur_dlq_replays_total", "Replays by result (resolved, failed, blocked, skipped).", []string{"domain", "result"}, nil)
	descOldest   = prometheus.NewDesc("baldur_dlq_oldest_pending_age_seconds", "Age of the oldest pending entry.", []string{"domain"}, nil)
	descArmed    = prometheus.NewDesc("baldur_dlq_auto_replay_armed", "1 while an auto-replay run is active for the domain.", []string{"domain"}, nil)
	descDepth    = prometheus.NewDesc("baldur_dlq_outbox_depth", "Captures waiting for the writer.", nil, nil)
	descSpilled  = prometheus.NewDesc("baldur_dlq_disk_spilled_total", "Entries written to the spill files.", nil, nil)
	descReingest = prometheus.NewDesc("baldur_dlq_reingested_total", "Spilled entries re-ingested into the repository.", nil, nil)
	descStoreErr = prometheus.NewDesc("baldur_dlq_store_errors_total", "Repository writes that failed (their batches spilled).", nil, nil)
)

// Describe implements prometheus.Collector.
func (q *Queue) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEntries, descCaptured, descDropped, descReplays, descOldest, descArmed, descDepth, descSpilled, descReingest, descStoreErr} {
		ch <- d
	}
}

// dropped sums the dropped counters over the domains, by reason.
func (q *Queue) dropped() map[string]uint64 {
	out := make(map[string]uint64, numDrops)
	for r := range numDrops {
		var n uint64
		for i := range q.counters {
			n += q.counters[i].dropped[r].Load()
		}
		out[dropNames[r]] = n
	}
	return out
}

// labels returns the configured domains, then OtherDomain, parallel to
// q.counters.
func (q *Queue) labels() []string {
	out := make([]string, 0, len(q.counters))
	for _, d := range q.cfg.Domains {
		out = append(out, d.Name)
	}
	return append(out, OtherDomain)
}

// Collect implements prometheus.Collector. The entry gauges cost one
// repository call (Counts, bounded by 2 s); when it fails they are left
// out of the scrape and the counters are still reported.
func (q *Queue) Collect(ch chan<- prometheus.Metric) {
	labels := q.labels()
	for i, d := range labels {
		c := &q.counters[i]
		ch <- prometheus.MustNewConstMetric(descCaptured, prometheus.CounterValue, float64(c.captured.Load()), d)
		for r := range numDrops {
			ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(c.dropped[r].Load()), d, dropNames[r])
		}
		for r := range numReplayResults {
			ch <- prometheus.MustNewConstMetric(descReplays, prometheus.CounterValue, float64(c.replays[r].Load()), d, replayNames[r])
		}
		armed := 0.0
		if d != OtherDomain && q.Armed(d) {
			armed = 1
		}
		ch <- prometheus.MustNewConstMetric(descArmed, prometheus.GaugeValue, armed, d)
	}
	ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(len(q.outbox)))
	ch <- prometheus.MustNewConstMetric(descSpilled, prometheus.CounterValue, float64(q.spilled.Load()))
	ch <- prometheus.MustNewConstMetric(descReingest, prometheus.CounterValue, float64(q.reingest.Load()))
	ch <- prometheus.MustNewConstMetric(descStoreErr, prometheus.CounterValue, float64(q.storeErrs.Load()))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := q.repo.Counts(ctx)
	if err != nil {
		return
	}
	type agg struct {
		by     [NumStatuses]int
		oldest time.Time
	}
	sums := make(map[string]*agg, len(labels))
	for _, d := range labels {
		sums[d] = &agg{}
	}
	for d, c := range counts {
		if _, ok := q.domainIdx[d]; !ok {
			d = OtherDomain
		}
		a := sums[d]
		for s, n := range c.ByStatus {
			a.by[s] += n
		}
		if !c.OldestPending.IsZero() && (a.oldest.IsZero() || c.OldestPending.Before(a.oldest)) {
			a.oldest = c.OldestPending
		}
	}
	now := q.clock.Now()
	for _, d := range labels {
		a := sums[d]
		for s := range NumStatuses {
			ch <- prometheus.MustNewConstMetric(descEntries, prometheus.GaugeValue, float64(a.by[s]), d, Status(s).String())
		}
		age := 0.0
		if !a.oldest.IsZero() {
			age = now.Sub(a.oldest).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, age, d)
	}
}

var _ prometheus.Collector = (*Queue)(nil)
