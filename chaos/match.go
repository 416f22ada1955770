package chaos

import (
	"github.com/baldur-go/baldur"
)

// cohort is the side of an experiment a partition key falls on.
type cohort uint8

const (
	cohortExperiment cohort = iota
	cohortControl
	numCohorts
)

func (c cohort) String() string {
	if c == cohortControl {
		return "control"
	}
	return "experiment"
}

// salt is the per-experiment seed of the cohort hash: FNV-1a of the ID, so
// every replica puts a key in the same cohort.
func salt(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return h
}

// cohortHash hashes key under an experiment's salt: FNV-1a, then the
// splitmix64 finalizer so that the top bits, which the cohort cuts
// compare, are as mixed as the low ones. Stable across processes and
// releases: the cohorts of a running experiment must not move.
func cohortHash(s uint64, key string) uint64 {
	h := s
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// cut is the hash threshold below which a fraction f of keys fall.
func cut(f float64) uint64 {
	if f <= 0 {
		return 0
	}
	if f >= 1 {
		return ^uint64(0)
	}
	return uint64(f * (1 << 63) * 2)
}

// Cohort reports which cohort of experiment id a partition key belongs to
// at rate: "experiment", "control" or "" (untouched). It is the function
// the fault gate applies, for tests and operators.
func Cohort(id string, rate float64, key string) string {
	if key == "" {
		return ""
	}
	h := cohortHash(salt(id), key)
	e := cut(rate)
	switch {
	case h < e:
		return cohortExperiment.String()
	case h-e < e: // h < 2e without overflow
		return cohortControl.String()
	}
	return ""
}

// globMatch reports whether s matches pattern, where '*' matches any run
// of characters and every other byte itself; O(len(pattern)·len(s)) at
// worst, without recursion.
func globMatch(pattern, s string) bool {
	px, sx := 0, 0
	nextPx, nextSx := -1, -1
	for px < len(pattern) || sx < len(s) {
		if px < len(pattern) {
			if c := pattern[px]; c == '*' {
				nextPx, nextSx = px, sx+1
				px++
				continue
			} else if sx < len(s) && s[sx] == c {
				px++
				sx++
				continue
			}
		}
		if nextSx > 0 && nextSx <= len(s) {
			px, sx = nextPx, nextSx
			continue
		}
		return false
	}
	return true
}

// armed is one experiment compiled for the call path: every field the
// match reads, in the order it reads them, cheapest first.
type armed struct {
	tiers   uint8 // bit per tier
	policy  string
	service string
	region  string
	op      string
	glob    bool // op has a '*'
	salt    uint64
	expCut  uint64
	inject  bool // the during phase of a live experiment
	dry     bool // the during phase of a dry run: count what would be injected
	kind    FaultKind
	rej     *baldur.Rejection
	delay   int64 // ns
	jitter  int64 // ns
	dist    Distribution
	stats   *[numCohorts]cohortStats // the current phase's
	id      string
}

// match returns the cohort of c under a and whether c is in one.
func (a *armed) match(policy string, c *baldur.Call) (cohort, bool) {
	if a.tiers&(1<<c.Tier) == 0 ||
		(a.policy != "" && a.policy != policy) ||
		(a.service != "" && a.service != c.Service) ||
		(a.region != "" && a.region != c.Region) ||
		c.Key == "" {
		return 0, false
	}
	if a.op != "" {
		if a.glob {
			if !globMatch(a.op, c.Operation) {
				return 0, false
			}
		} else if a.op != c.Operation {
			return 0, false
		}
	}
	h := cohortHash(a.salt, c.Key)
	if h < a.expCut {
		return cohortExperiment, true
	}
	if h-a.expCut < a.expCut {
		return cohortControl, true
	}
	return 0, false
}
