package watchdog

import (
	"sort"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector returns a prometheus.Collector reading the runner's state at
// scrape time. Labels are bounded by configuration and code: check names
// (configured), finding kinds (the Kind constants) and action names (each
// check's own, at most 32 per check). Subjects never become labels.
//
//	baldur_watchdog_passes_total{result}                ok, failed, dry_run
//	baldur_watchdog_last_pass_timestamp_seconds         gauge (0 before the first pass)
//	baldur_watchdog_last_pass_duration_seconds          gauge
//	baldur_watchdog_findings_total{kind}                counter
//	baldur_watchdog_actions_total{check,action}         counter
//	baldur_watchdog_leader{check}                       1 leader or local, 0 otherwise
//	baldur_watchdog_brake_engaged{check}                1 or 0
//	baldur_watchdog_incidents_open{check}               gauge, at the last pass
//	baldur_watchdog_pages_total{kind}                   paged, resolved
//	baldur_watchdog_heartbeats_total{result}            ok, failed
//	baldur_watchdog_running                             1 or 0
func (r *Runner) Collector() prometheus.Collector { return (*collector)(r) }

type collector Runner

var (
	descPasses    = prometheus.NewDesc("baldur_watchdog_passes_total", "Watchdog passes by result (ok, failed, dry_run).", []string{"result"}, nil)
	descLastPass  = prometheus.NewDesc("baldur_watchdog_last_pass_timestamp_seconds", "Unix time the last watchdog pass ended (0 before the first).", nil, nil)
	descDuration  = prometheus.NewDesc("baldur_watchdog_last_pass_duration_seconds", "Duration of the last watchdog pass on the watchdog's clock.", nil, nil)
	descFindings  = prometheus.NewDesc("baldur_watchdog_findings_total", "Findings of watchdog passes by kind.", []string{"kind"}, nil)
	descActions   = prometheus.NewDesc("baldur_watchdog_actions_total", "Actions the watchdog applied, by check and action.", []string{"check", "action"}, nil)
	descLeader    = prometheus.NewDesc("baldur_watchdog_leader", "1 while this replica acts for the check (leader, or a local check).", []string{"check"}, nil)
	descBrake     = prometheus.NewDesc("baldur_watchdog_brake_engaged", "1 while the check's remediation brake is engaged.", []string{"check"}, nil)
	descIncidents = prometheus.NewDesc("baldur_watchdog_incidents_open", "Open incidents of the check at the last pass.", []string{"check"}, nil)
	descPages     = prometheus.NewDesc("baldur_watchdog_pages_total", "Incident notifications sent (paged, resolved).", []string{"kind"}, nil)
	descBeats     = prometheus.NewDesc("baldur_watchdog_heartbeats_total", "Heartbeat pings by result (ok, failed).", []string{"result"}, nil)
	descRunning   = prometheus.NewDesc("baldur_watchdog_running", "1 while the watchdog's loop runs.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPasses, descLastPass, descDuration, descFindings, descActions, descLeader, descBrake, descIncidents, descPages, descBeats, descRunning} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	r := (*Runner)(c)
	m := &r.m
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(descPasses, m.passesOK.Load(), "ok")
	counter(descPasses, m.passesFailed.Load(), "failed")
	counter(descPasses, m.passesDry.Load(), "dry_run")
	last := 0.0
	if ns := m.lastPassNs.Load(); ns != 0 {
		last = float64(ns) / 1e9
	}
	gauge(descLastPass, last)
	gauge(descDuration, float64(m.lastDurationNs.Load())/1e9)
	m.findings.Range(func(k, v any) bool {
		counter(descFindings, v.(*atomic.Uint64).Load(), k.(string))
		return true
	})
	counter(descPages, m.pages.Load(), "paged")
	counter(descPages, m.resolves.Load(), "resolved")
	counter(descBeats, m.heartbeats.Load(), "ok")
	counter(descBeats, m.heartbeatFailures.Load(), "failed")
	st := r.Status()
	gauge(descRunning, boolValue(st.Running))
	for i, cs := range st.Checks {
		gauge(descLeader, boolValue(cs.Role == RoleLeader || cs.Role == RoleLocal), cs.Name)
		gauge(descBrake, boolValue(cs.Brake), cs.Name)
		gauge(descIncidents, float64(cs.OpenIncidents), cs.Name)
		state := r.checks[i]
		state.mu.Lock()
		names := make([]string, 0, len(state.acted))
		for a := range state.acted {
			names = append(names, a)
		}
		sort.Strings(names)
		counts := make([]uint64, len(names))
		for j, a := range names {
			counts[j] = state.acted[a]
		}
		state.mu.Unlock()
		for j, a := range names {
			counter(descActions, counts[j], cs.Name, a)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
