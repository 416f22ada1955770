package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/registry"
)

// Option configures NewCollector and Handler.
type Option func(*options)

type options struct {
	namespace string
	clock     baldur.Clock
}

// WithNamespace sets the prefix of every metric name. Default "baldur";
// empty means no prefix.
func WithNamespace(ns string) Option { return func(o *options) { o.namespace = ns } }

// WithClock sets the clock whose reading a scrape passes to the error-budget
// service. Default baldur.SystemClock(); pass the registry's clock when it
// is not the system clock, so that the budget is read at the gates' time.
func WithClock(c baldur.Clock) Option { return func(o *options) { o.clock = c } }

// collector reads the registry at scrape time. It keeps no metric state of
// its own besides its error count, so it is safe for concurrent use and
// concurrent scrapes are independent.
type collector struct {
	reg   *registry.Registry
	clock baldur.Clock
	d     descs

	killSwitchErrors atomic.Uint64
}

// NewCollector returns a prometheus.Collector that reports the state of
// reg's policies, gates and slots at each scrape (see the package doc for
// the metric list). It adds no work to the call path. The collector is safe
// for concurrent use; register it once per prometheus.Registerer.
func NewCollector(reg *registry.Registry, opts ...Option) prometheus.Collector {
	o := options{namespace: "baldur"}
	for _, opt := range opts {
		opt(&o)
	}
	if o.clock == nil {
		o.clock = baldur.SystemClock()
	}
	return &collector{reg: reg, clock: o.clock, d: newDescs(o.namespace)}
}

// Describe sends every descriptor the collector may use, so that a
// prometheus.Registry can check names and labels at registration.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all() {
		ch <- d
	}
}

// Collect reads the registry once and sends its metrics. A nil registry
// yields nothing.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	if c.reg == nil {
		return
	}
	extra := c.collectPolicies(ch)
	c.collectBulkheads(ch, extra)
	c.collectGovernance(ch)
	c.collectRegistry(ch)
}

func (c *collector) collectRegistry(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.d.configVersion, prometheus.GaugeValue, float64(c.reg.Version()))
	for _, s := range c.reg.Slots() {
		ch <- prometheus.MustNewConstMetric(c.d.slotSet, prometheus.GaugeValue, boolValue(s.Set), s.Name)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
