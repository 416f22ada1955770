package chaos

import (
	"github.com/baldur-go/baldur/internal/glob"
	"strings"

	"github.com/baldur-go/baldur"
)

// How an armed experiment matches the operation: any, exact, a prefix
// glob ("GET /api/*"), one '*' inside ("GET /*/items"), or a general glob.
const (
	opAny uint8 = iota
	opExact
	opPrefix
	opAffix
	opGlob
)

// compileOp sets a's operation matcher for pattern.
func (a *armed) compileOp(pattern string) {
	a.op = pattern
	switch n := strings.Count(pattern, "*"); {
	case pattern == "":
		a.opKind = opAny
	case n == 0:
		a.opKind = opExact
		a.prefixWords = wordsOf(pattern)
	case n == 1 && strings.HasSuffix(pattern, "*"):
		a.opKind, a.prefix = opPrefix, pattern[:len(pattern)-1]
		a.prefixWords = wordsOf(a.prefix)
	case n == 1:
		i := strings.IndexByte(pattern, '*')
		a.opKind, a.prefix, a.suffix = opAffix, pattern[:i], pattern[i+1:]
	default:
		a.opKind = opGlob
	}
}

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

// cohortHash hashes key under an experiment's salt, eight bytes at a
// time (multiply-xorshift per word), then the splitmix64 finalizer so
// that the top bits, which the cohort cuts compare, are as mixed as the
// low ones. Stable across processes and releases: the cohorts of a running
// experiment must not move.
func cohortHash(s uint64, key string) uint64 {
	h := s ^ uint64(len(key))*0x9e3779b97f4a7c15
	n := len(key)
	i := 0
	for ; i+8 <= n; i += 8 {
		h = (h ^ word(key, i)) * 0xff51afd7ed558ccd
		h ^= h >> 32
	}
	var w uint64
	switch {
	case i == n:
	case n >= 8:
		w = word(key, n-8) // the last eight bytes, overlapping the previous word
	default:
		for j := 0; i < n; i, j = i+1, j+8 {
			w |= uint64(key[i]) << j
		}
	}
	h = (h ^ w) * 0xc4ceb9fe1a85ec53
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// word is the little-endian word at key[i:i+8]. Slicing first leaves one
// bounds check where indexing key[i+k] kept eight, and the compiler then
// loads the word at once.
func word(key string, i int) uint64 {
	s := key[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
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

// armed is one experiment compiled for the call path: every field the
// match reads, in the order it reads them, cheapest first.
type armed struct {
	tiers   uint8 // bit per tier
	policy  string
	service string
	region  string
	op      string
	opKind  uint8  // opAny, opExact, opPrefix, opAffix, opGlob
	prefix  string // opPrefix, opAffix: before the one '*'
	suffix  string // opAffix: after it
	// prefixWords: the prefix (opPrefix) or the operation (opExact) as
	// words, for a comparison without a call
	prefixWords words
	salt        uint64
	expCut      uint64
	inject      bool // the during phase of a live experiment
	dry         bool // the during phase of a dry run: count what would be injected
	kind        FaultKind
	rej         *baldur.Rejection
	delay       int64 // ns
	jitter      int64 // ns
	dist        Distribution
	stats       *[numCohorts]cohortStats // the current phase's
	id          string
}

// match returns the cohort of c under a, the key's hash (its low bits
// pick a counter stripe) and whether c is in a cohort. The
// policy was matched when the gate's view was built (activeSet.filter).
func (a *armed) match(c *baldur.Call) (cohort, uint64, bool) {
	if a.tiers&(1<<c.Tier) == 0 ||
		(a.service != "" && a.service != c.Service) ||
		(a.region != "" && a.region != c.Region) ||
		c.Key == "" {
		return 0, 0, false
	}
	switch a.opKind {
	case opExact:
		if len(c.Operation) != len(a.op) || !a.prefixWords.prefixOf(c.Operation, a.op) {
			return 0, 0, false
		}
	case opPrefix:
		if !a.prefixWords.prefixOf(c.Operation, a.prefix) {
			return 0, 0, false
		}
	case opAffix:
		if len(c.Operation) < len(a.prefix)+len(a.suffix) || !strings.HasPrefix(c.Operation, a.prefix) || !strings.HasSuffix(c.Operation, a.suffix) {
			return 0, 0, false
		}
	case opGlob:
		if !glob.Match(a.op, c.Operation) {
			return 0, 0, false
		}
	}
	h := cohortHash(a.salt, c.Key)
	if h < a.expCut {
		return cohortExperiment, h, true
	}
	if h-a.expCut < a.expCut {
		return cohortControl, h, true
	}
	return 0, 0, false
}

// words holds a string of 8 to 16 bytes as two overlapping little-endian
// words, so that testing it as a prefix is two loads and compares instead
// of a call to the runtime's memequal; n < 0 for other lengths.
type words struct {
	n      int
	w0, w1 uint64
}

func wordsOf(p string) words {
	if len(p) < 8 || len(p) > 16 {
		return words{n: -1}
	}
	return words{n: len(p), w0: word(p, 0), w1: word(p, len(p)-8)}
}

// prefixOf reports strings.HasPrefix(s, p), where w is wordsOf(p).
func (w *words) prefixOf(s, p string) bool {
	if w.n < 0 {
		return strings.HasPrefix(s, p)
	}
	return len(s) >= w.n && word(s, 0) == w.w0 && word(s, w.n-8) == w.w1
}
