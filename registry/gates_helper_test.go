package registry_test

import (
	"testing"

	"github.com/baldur-go/baldur"
)

// gateAt returns p's first gate at stage s, so that tests find a gate by
// what it is rather than by its place in a chain that other stages (a
// chaos or canary observer) may join.
func gateAt(t testing.TB, p *baldur.Policy, s baldur.Stage) baldur.Gate {
	t.Helper()
	for _, g := range p.Gates() {
		if g.Stage() == s {
			return g
		}
	}
	t.Fatalf("policy %s has no gate at stage %v", p.Name(), s)
	return nil
}
