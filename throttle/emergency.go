package throttle

import "github.com/baldur-go/baldur"

// Emergency factors multiply the effective rate: index 0 is NORMAL (and
// unknown levels), 1 is LEVEL_1, 2 is LEVEL_2. LEVEL_3 has no factor of its
// own: it keeps the last one applied.
var factors = [...]float64{1, 0.8, 0.5}

const numFactors = len(factors)

// factor reads the emergency level once and returns the index of the factor
// in effect. The last factor applied is kept in an atomic so that LEVEL_3
// can freeze it; it is written only when it changes, so the hot path only
// loads shared memory.
func (t *Throttle) factor() uint32 {
	if t.level == nil {
		return 0
	}
	return t.levelFactor()
}

// levelFactor is factor with a level source, out of line so that factor
// inlines.
func (t *Throttle) levelFactor() uint32 {
	var fi uint32
	switch t.level.Level() {
	case baldur.Level1:
		fi = 1
	case baldur.Level2:
		fi = 2
	case baldur.Level3:
		return t.applied.Load()
	}
	if t.applied.Load() != fi {
		t.applied.Store(fi)
	}
	return fi
}
