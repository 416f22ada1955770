package watchdog

import "github.com/baldur-go/baldur"

// Policies is where the built-in gate checks find gates: the policies of a
// registry (*registry.Registry has both methods). Only root capability
// interfaces are read from the gates (baldur.BreakerForcer,
// baldur.CompartmentReporter), never a gate package's types.
type Policies interface {
	PolicyNames() []string
	PolicyByName(name string) (*baldur.Policy, bool)
}

// namedGate is a gate with the first policy that names it (a gate shared
// by policies is visited once).
type namedGate struct {
	policy string
	gate   baldur.Gate
}

// gatesOf returns every gate of every policy once, in policy order.
func gatesOf(p Policies) []namedGate {
	if p == nil {
		return nil
	}
	seen := map[baldur.Gate]bool{}
	var out []namedGate
	for _, name := range p.PolicyNames() {
		pol, ok := p.PolicyByName(name)
		if !ok || pol == nil {
			continue
		}
		for _, g := range pol.Gates() {
			if g == nil || seen[g] {
				continue
			}
			seen[g] = true
			out = append(out, namedGate{policy: name, gate: g})
		}
	}
	return out
}
