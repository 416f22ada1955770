package registry

import "reflect"

// reusable is a gate built from configuration, kept across reloads so that
// an unchanged gate keeps its state (token buckets, breaker counts, permits
// in flight) when the table is swapped.
type reusable struct {
	cfg  any
	gate any
}

// reuse returns the gate built earlier under key from an equal
// configuration, or builds a new one. Callers hold r.mu. Built gates are
// recorded in next, which replaces r.gates only when the whole reload
// succeeds.
func (r *Registry) reuse(next map[string]reusable, key string, cfg any, build func() (any, error)) (any, error) {
	if prev, ok := r.gates[key]; ok && sameConfig(prev.cfg, cfg) {
		next[key] = prev
		return prev.gate, nil
	}
	if prev, ok := next[key]; ok && sameConfig(prev.cfg, cfg) {
		return prev.gate, nil
	}
	g, err := build()
	if err != nil {
		return nil, err
	}
	next[key] = reusable{cfg: cfg, gate: g}
	return g, nil
}

// sameConfig reports whether two gate configurations are equal.
func sameConfig(a, b any) bool { return reflect.DeepEqual(a, b) }
