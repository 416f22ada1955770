// Package metrics exposes the state the gates already keep as Prometheus
// metrics, read at scrape time.
//
// The hot path pays nothing for metrics: no gate calls into this package,
// increments a Prometheus counter or takes a label lookup. Policies already
// count their rejections per reason, bulkheads their occupancy, breakers
// their partitions and the governance checker its level, budget and kill
// switches. The collector NewCollector returns is a pull-based
// prometheus.Collector: each scrape walks the registry (its policies, each
// policy's gates, its slots) and turns what it finds into constant metrics.
// A scrape therefore always reflects the current configuration, including
// after a hot reload, without any registration or unregistration.
//
// Label cardinality is bounded by configuration, never by traffic. The only
// label values are policy names and bulkhead compartment names (from the
// configuration), gate names, rejection reasons and breaker states (fixed
// sets), slot names (fixed), burn-rate windows (from the configuration) and
// audit reasons (fixed). Partition keys, tenants, client addresses and
// operations never become labels: a breaker reports how many of its
// partitions are in each state, a throttle how many keys it tracks.
//
// With the default namespace "baldur" the collector exports:
//
//	baldur_rejections_total{policy,gate,reason}         counter
//	baldur_shadow_rejections_total{policy,gate,reason}  counter
//	baldur_bulkhead_active{compartment}                 gauge
//	baldur_bulkhead_max_concurrent{compartment}         gauge
//	baldur_bulkhead_waiting{compartment}                gauge
//	baldur_bulkhead_utilization_ratio{compartment}      gauge, 0..1
//	baldur_bulkhead_rejected_total{compartment}         counter
//	baldur_breaker_partitions{policy,state}             gauge
//	baldur_throttle_keys{policy}                        gauge
//	baldur_throttle_keys_capacity{policy}               gauge
//	baldur_throttle_lossy_evictions_total{policy}       counter
//	baldur_throttle_store_errors_total{policy}          counter
//	baldur_share_cap_keys{policy}                       gauge
//	baldur_emergency_level                              gauge, -1..3
//	baldur_error_budget_remaining_ratio                 gauge, 0..1
//	baldur_error_budget_burn_rate{window}               gauge
//	baldur_kill_switches_active                         gauge
//	baldur_governance_audit_dropped_total{reason}       counter
//	baldur_registry_config_version                      gauge
//	baldur_slot_set{slot}                               gauge, 1 or 0
//	baldur_collect_errors_total{source}                 counter
//
// Rejection series exist for every reason a policy's gates can give (and
// "deadline"), zero until the first rejection, so that rate() works from
// the first scrape. The governance metrics appear only while their slot is
// filled: the emergency level with the emergency slot, the budget with the
// error-budget slot, kill switches while the governance slot holds a
// governance.Switchboard and dropped audits while it holds a
// governance.AuditCounter (*governance.Checker is both). A gate shared by
// several policies is reported under each of them.
//
// Handler serves a fresh prometheus.Registry holding the collector and the
// Go runtime and process collectors:
//
//	mux.Handle("GET /metrics", metrics.Handler(reg))
//
// To add the collector to a registry of your own:
//
//	prometheus.MustRegister(metrics.NewCollector(reg))
package metrics
