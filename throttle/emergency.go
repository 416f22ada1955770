package throttle

import "github.com/baldur-go/baldur"

// Emergency factors multiply the effective rate: index 0 is NORMAL (and
// unknown levels), 1 is LEVEL_1, 2 is LEVEL_2. LEVEL_3 has no factor of its
// own: it keeps the factor of the level it was raised from.
var factors = [...]float64{1, 0.8, 0.5}

const numFactors = len(factors)

// Level3Source is a LevelSource that also knows the level in force when
// the current LEVEL_3 began. governance.Checker and governance.Emergency
// implement it, keeping that level with the emergency state, so that a
// Throttle built during LEVEL_3 (a reload in the incident) applies the
// same factor as one that saw the level rise. With a plain LevelSource, or
// when Level3From reports false, a Throttle falls back to the factor it
// applied last itself (the full rate when it never saw a lower level).
//
// Level3From is read on every call at LEVEL_3: it must be cheap (atomic
// loads) and safe for concurrent use.
type Level3Source interface {
	LevelSource
	// Level3From returns the level (NORMAL..LEVEL_2) in force when the
	// current LEVEL_3 began; false when unknown or not at LEVEL_3.
	Level3From() (baldur.EmergencyLevel, bool)
}

// factor reads the emergency level once and returns the index of the factor
// in effect. The last factor applied is kept in an atomic for LEVEL_3 under
// a plain LevelSource; it is written only when it changes, so the hot path
// only loads shared memory.
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
		return t.level3Factor()
	}
	if t.applied.Load() != fi {
		t.applied.Store(fi)
	}
	return fi
}

// level3Factor is the factor at LEVEL_3: that of the level LEVEL_3 began
// from when the source knows it, else the last one this Throttle applied.
func (t *Throttle) level3Factor() uint32 {
	if s, ok := t.level.(Level3Source); ok {
		if from, ok := s.Level3From(); ok {
			switch from {
			case baldur.Level1:
				return 1
			case baldur.Level2:
				return 2
			}
			return 0
		}
	}
	return t.applied.Load()
}
