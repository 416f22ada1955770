package metrics

import "github.com/prometheus/client_golang/prometheus"

// descs are the collector's metric descriptors, built once per collector.
type descs struct {
	rejections, shadowRejections *prometheus.Desc

	bulkheadActive, bulkheadMax, bulkheadWaiting, bulkheadUtilization, bulkheadRejected *prometheus.Desc

	breakerPartitions                                              *prometheus.Desc
	throttleKeys, throttleKeysCap, throttleLossy, throttleStoreErr *prometheus.Desc
	shareCapKeys                                                   *prometheus.Desc

	emergencyLevel, budgetRemaining, burnRate, killSwitches, auditDropped *prometheus.Desc

	configVersion, slotSet, collectErrors *prometheus.Desc
}

func newDescs(ns string) descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, labels, nil)
	}
	return descs{
		rejections:       d("rejections_total", "Calls a policy rejected, by gate and reason.", "policy", "gate", "reason"),
		shadowRejections: d("shadow_rejections_total", "Calls a shadow gate would have rejected but let through, by gate and reason.", "policy", "gate", "reason"),

		bulkheadActive:      d("bulkhead_active", "Permits held in the bulkhead compartment.", "compartment"),
		bulkheadMax:         d("bulkhead_max_concurrent", "Permits the bulkhead compartment grants at most.", "compartment"),
		bulkheadWaiting:     d("bulkhead_waiting", "Calls waiting for a permit of the bulkhead compartment.", "compartment"),
		bulkheadUtilization: d("bulkhead_utilization_ratio", "Active permits over max concurrent, 0..1.", "compartment"),
		bulkheadRejected:    d("bulkhead_rejected_total", "Calls the bulkhead compartment turned away.", "compartment"),

		breakerPartitions: d("breaker_partitions", "Breaker partitions held in memory, by state; closed counts the rest.", "policy", "state"),
		throttleKeys:      d("throttle_keys", "Token buckets the policy's throttle tracks in memory.", "policy"),
		throttleKeysCap:   d("throttle_keys_capacity", "Token buckets the policy's throttle may track in memory.", "policy"),
		throttleLossy:     d("throttle_lossy_evictions_total", "Token buckets evicted before they were full (a key may have regained a burst early).", "policy"),
		throttleStoreErr:  d("throttle_store_errors_total", "Throttle store errors that admitted a call (fail-open).", "policy"),
		shareCapKeys:      d("share_cap_keys", "Partition keys the policy's share cap remembers, idle ones included.", "policy"),

		emergencyLevel:  d("emergency_level", "Emergency level: 0 NORMAL to 3 LEVEL_3, -1 unknown."),
		budgetRemaining: d("error_budget_remaining_ratio", "Share of the error budget left over the SLO window, 0..1."),
		burnRate:        d("error_budget_burn_rate", "Error rate over the look-back window divided by the rate the SLO allows.", "window"),
		killSwitches:    d("kill_switches_active", "Active kill switches."),
		auditDropped:    d("governance_audit_dropped_total", "Governance audit records suppressed by the audit rate limit.", "reason"),

		configVersion: d("registry_config_version", "Generation of the registry's policy table; changes on every load or apply."),
		slotSet:       d("slot_set", "1 when a provider was set in the registry slot, 0 when it is empty or holds its default.", "slot"),
		collectErrors: d("collect_errors_total", "State the collector could not read during scrapes, by source.", "source"),
	}
}

func (d *descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{
		d.rejections, d.shadowRejections,
		d.bulkheadActive, d.bulkheadMax, d.bulkheadWaiting, d.bulkheadUtilization, d.bulkheadRejected,
		d.breakerPartitions, d.throttleKeys, d.throttleKeysCap, d.throttleLossy, d.throttleStoreErr, d.shareCapKeys,
		d.emergencyLevel, d.budgetRemaining, d.burnRate, d.killSwitches, d.auditDropped,
		d.configVersion, d.slotSet, d.collectErrors,
	}
}
