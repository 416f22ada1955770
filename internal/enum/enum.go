// Package enum gives the project's small closed enumerations (tiers, states,
// priorities) one implementation of their String, Valid and Parse methods.
//
// An enumeration is a uint8-based type whose values are 0..n-1; its Names
// table lists the canonical name of each value in order. The exported
// types keep their own methods, each a one-line call into the table, so the
// rule for every enumeration is written once.
package enum

import (
	"fmt"
	"strings"

	"github.com/baldur-go/baldur/internal/clip"
)

// Names is the table of one enumeration's canonical names, indexed by
// value. It is immutable after New and safe for concurrent use.
type Names[T ~uint8] struct {
	kind  string // what the values are, in errors and out-of-range names
	names []string
}

// New returns the table of an enumeration whose value i is named names[i].
// kind names the enumeration in errors ("tier", "canary state").
func New[T ~uint8](kind string, names ...string) Names[T] {
	return Names[T]{kind: kind, names: names}
}

// String returns v's canonical name, or kind_in_snake_case(v) for a value
// outside the table, so printing a corrupt value shows what it was.
func (n Names[T]) String(v T) string {
	if int(v) < len(n.names) {
		return n.names[v]
	}
	return fmt.Sprintf("%s(%d)", strings.ReplaceAll(strings.ToLower(n.kind), " ", "_"), uint8(v))
}

// Valid reports whether v is one of the table's values.
func (n Names[T]) Valid(v T) bool { return int(v) < len(n.names) }

// Len is the number of values.
func (n Names[T]) Len() int { return len(n.names) }

// Parse returns the value named s. Any other input is an error that quotes
// it (clipped, since it may be hostile) and lists the accepted names; Parse
// never panics.
func (n Names[T]) Parse(s string) (T, error) {
	for i, name := range n.names {
		if s == name {
			return T(i), nil
		}
	}
	return 0, fmt.Errorf("baldur: unknown %s %q (want one of %q)", n.kind, clip.String(s), n.names)
}
