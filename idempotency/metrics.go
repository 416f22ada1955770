package idempotency

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the middleware, the interceptor and the step API
// decided. The zero value is ready; share one across adapters. Safe for
// concurrent use.
type Metrics struct {
	// First: the work ran (a claim was granted).
	First atomic.Uint64
	// Replayed: a stored response was replayed.
	Replayed atomic.Uint64
	// Duplicate: a completed key was refused (reject mode, or a
	// response too large to replay).
	Duplicate atomic.Uint64
	// InFlight: refused while another holder's lease covered the key.
	InFlight atomic.Uint64
	// Mismatch: the key came with another request.
	Mismatch atomic.Uint64
	// Missing: a guarded request without a key (400 when required).
	Missing atomic.Uint64
	// Invalid: a malformed key (400), or a body over the limit (413).
	Invalid atomic.Uint64
	// StoreError: the ledger could not be reached (503).
	StoreError atomic.Uint64
	// FailOpen: the ledger could not be reached and the route's fail-open
	// rule ran the work unguarded.
	FailOpen atomic.Uint64
	// Stored and Released: outcomes of the work that ran.
	Stored, Released atomic.Uint64
	// LeaseLost: the work ran but its claim was lost before it completed
	// (stale claim: the lease expired or an operator released it).
	LeaseLost atomic.Uint64
}

var (
	descRequests = prometheus.NewDesc("baldur_idempotency_requests_total", "Guarded requests by what the idempotency ledger decided.", []string{"result"}, nil)
	descOutcomes = prometheus.NewDesc("baldur_idempotency_outcomes_total", "Work that ran under a claim, by what became of its record (stored, released).", []string{"outcome"}, nil)
	descStale    = prometheus.NewDesc("baldur_idempotency_stale_claims_total", "Claims lost before their work completed (lease expired or released by an operator).", nil, nil)
)

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRequests
	ch <- descOutcomes
	ch <- descStale
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, r := range []struct {
		name string
		v    *atomic.Uint64
	}{{"first", &m.First}, {"replayed", &m.Replayed}, {"duplicate", &m.Duplicate}, {"in_flight", &m.InFlight},
		{"mismatch", &m.Mismatch}, {"missing", &m.Missing}, {"invalid", &m.Invalid}, {"store_error", &m.StoreError},
		{"fail_open", &m.FailOpen}} {
		ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(r.v.Load()), r.name)
	}
	ch <- prometheus.MustNewConstMetric(descOutcomes, prometheus.CounterValue, float64(m.Stored.Load()), "stored")
	ch <- prometheus.MustNewConstMetric(descOutcomes, prometheus.CounterValue, float64(m.Released.Load()), "released")
	ch <- prometheus.MustNewConstMetric(descStale, prometheus.CounterValue, float64(m.LeaseLost.Load()))
}
