package baldur

import (
	"fmt"

	"github.com/baldur-go/baldur/internal/enum"
)

// Tier is a call's criticality class. It selects emergency shedding
// fractions, error-budget thresholds, throttle limits and the per-tier
// admission bulkhead.
//
// The zero Tier is TierStandard, so a call nobody classified is treated as
// ordinary traffic: neither protected like critical calls nor shed first.
type Tier uint8

const (
	// TierStandard is ordinary traffic, and the zero value.
	TierStandard Tier = iota
	// TierCritical is traffic that is shed last (login, payments, control
	// plane).
	TierCritical
	// TierNonEssential is traffic that is shed first (recommendations,
	// prefetch).
	TierNonEssential

	// NumTiers is the number of tiers; arrays indexed by Tier have this
	// length.
	NumTiers = 3
)

var tierNames = enum.New[Tier]("tier", "standard", "critical", "non_essential")

// String returns the tier's canonical name: "critical", "standard" or
// "non_essential".
func (t Tier) String() string { return tierNames.String(t) }

// Valid reports whether t is one of the three defined tiers. It compares
// with a constant rather than the name table because adapters call it on
// every request.
func (t Tier) Valid() bool { return t < NumTiers }

// ParseTier returns the Tier named s ("critical", "standard",
// "non_essential"; "non-essential" is accepted too). Any other input is an
// error naming the input; ParseTier never panics.
func ParseTier(s string) (Tier, error) {
	if s == "non-essential" {
		return TierNonEssential, nil
	}
	return tierNames.Parse(s)
}

// MarshalText implements encoding.TextMarshaler with the tier's canonical
// name, so that a Tier is a JSON string and a JSON map key ("critical").
// A tier outside the three is an error.
func (t Tier) MarshalText() ([]byte, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("baldur: %s has no name", t)
	}
	return []byte(t.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseTier.
func (t *Tier) UnmarshalText(b []byte) error {
	v, err := ParseTier(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Tiers lists the tiers from most to least protected.
func Tiers() [NumTiers]Tier { return [NumTiers]Tier{TierCritical, TierStandard, TierNonEssential} }
