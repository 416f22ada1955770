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
// succeeds. A key names one kind of gate, so an entry found under it holds
// a T; one that does not (a kind changed under the same name, say a
// semaphore that became tiered) is built anew.
func reuse[T any](r *Registry, next map[string]reusable, key string, cfg any, build func() (T, error)) (T, error) {
	if prev, ok := r.gates[key]; ok && sameConfig(prev.cfg, cfg) {
		if g, ok := prev.gate.(T); ok {
			next[key] = prev
			return g, nil
		}
	}
	if prev, ok := next[key]; ok && sameConfig(prev.cfg, cfg) {
		if g, ok := prev.gate.(T); ok {
			return g, nil
		}
	}
	g, err := build()
	if err != nil {
		var zero T
		return zero, err
	}
	next[key] = reusable{cfg: cfg, gate: g}
	return g, nil
}

// sameConfig reports whether two gate configurations are equal.
func sameConfig(a, b any) bool { return reflect.DeepEqual(a, b) }
