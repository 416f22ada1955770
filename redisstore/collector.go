package redisstore

import (
	"sort"
	"time"

	"github.com/baldur-go/baldur/blast"
	"github.com/prometheus/client_golang/prometheus"
)

// StoreStats is what a store with a fail mode reports beyond its guard's
// counters.
type StoreStats struct {
	// Store is the name of the store's guard.
	Store string
	// Fallbacks counts the decisions the store's fail mode made instead of
	// Redis (a throttle's local decisions, governance serving stale state).
	Fallbacks uint64
	// Synced is false until the store first had Redis's state.
	Synced bool
	// Staleness is the age of the Redis state the store serves: the time
	// since its last successful exchange, on the store's clock.
	Staleness time.Duration
}

// StoreReporter is implemented by the stores that have a fail mode or serve
// a cached view (Membership does); the Collector and the admin view read it.
type StoreReporter interface {
	StoreStats() StoreStats
}

// sortedGuards returns the backend's guards by name.
func (b *Backend) sortedGuards() []*Guard {
	b.mu.Lock()
	gs := make([]*Guard, 0, len(b.guards))
	for _, g := range b.guards {
		gs = append(gs, g)
	}
	b.mu.Unlock()
	sort.Slice(gs, func(i, j int) bool { return gs[i].name < gs[j].name })
	return gs
}

var breakerStates = []blast.State{blast.StateClosed, blast.StateHalfOpen, blast.StateOpen, blast.StateForcedOpen, blast.StateForcedClosed}

var (
	descCalls      = prometheus.NewDesc("baldur_redis_calls_total", "Redis calls the breaker admitted, by store.", []string{"store"}, nil)
	descRoundTrips = prometheus.NewDesc("baldur_redis_round_trips_total", "Requests sent to Redis (a call plus its NOSCRIPT recovery), by store.", []string{"store"}, nil)
	descErrors     = prometheus.NewDesc("baldur_redis_errors_total", "Redis calls that failed (unavailable or an error reply), by store.", []string{"store"}, nil)
	descTimeouts   = prometheus.NewDesc("baldur_redis_timeouts_total", "Redis calls that hit their deadline, by store.", []string{"store"}, nil)
	descRejected   = prometheus.NewDesc("baldur_redis_breaker_rejected_total", "Calls the open breaker on Redis answered without a round trip, by store.", []string{"store"}, nil)
	descReloads    = prometheus.NewDesc("baldur_redis_script_reloads_total", "NOSCRIPT recoveries, by store.", []string{"store"}, nil)
	descOpens      = prometheus.NewDesc("baldur_redis_breaker_opens_total", "Times the breaker on Redis opened, by store.", []string{"store"}, nil)
	descState      = prometheus.NewDesc("baldur_redis_breaker_state", "1 for the state the breaker on Redis is in, by store.", []string{"store", "state"}, nil)
	descFallbacks  = prometheus.NewDesc("baldur_redis_fallback_decisions_total", "Decisions a store's fail mode made instead of Redis, by store.", []string{"store"}, nil)
	descStaleness  = prometheus.NewDesc("baldur_redis_staleness_seconds", "Age of the Redis state a store serves (since its last sync), by store; absent before the first.", []string{"store"}, nil)
	descReplicas   = prometheus.NewDesc("baldur_fleet_replicas", "Live replicas of the cluster at the last heartbeat (what a fleet throttle divides by).", []string{"cluster"}, nil)
)

// Collector is a prometheus.Collector over a Backend: the counters and
// breaker state of every guard (read with Guard.Stats at scrape time), and
// the fallback decisions and staleness of the stores registered with it.
// Labels are store (guard) names and cluster names, a handful per process.
// Safe for concurrent use.
type Collector struct {
	b      *Backend
	stores []StoreReporter
}

// NewCollector returns a collector of b's guards and of stores.
func NewCollector(b *Backend, stores ...StoreReporter) *Collector {
	return &Collector{b: b, stores: stores}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCalls, descRoundTrips, descErrors, descTimeouts, descRejected,
		descReloads, descOpens, descState, descFallbacks, descStaleness, descReplicas} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, g := range c.b.sortedGuards() {
		st := g.Stats()
		counter(descCalls, st.Calls, g.name)
		counter(descRoundTrips, st.RoundTrips, g.name)
		counter(descErrors, st.Errors, g.name)
		counter(descTimeouts, st.Timeouts, g.name)
		counter(descRejected, st.Rejected, g.name)
		counter(descReloads, st.ScriptReloads, g.name)
		counter(descOpens, st.Opens, g.name)
		for _, s := range breakerStates {
			v := 0.0
			if s == st.State {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v, g.name, s.String())
		}
	}
	for _, s := range c.stores {
		st := s.StoreStats()
		counter(descFallbacks, st.Fallbacks, st.Store)
		if st.Synced {
			ch <- prometheus.MustNewConstMetric(descStaleness, prometheus.GaugeValue, max(st.Staleness.Seconds(), 0), st.Store)
		}
		if m, ok := s.(*Membership); ok {
			ch <- prometheus.MustNewConstMetric(descReplicas, prometheus.GaugeValue, float64(m.Replicas()), m.cluster)
		}
	}
}
