package chaos

import (
	"strings"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/glob"
	"github.com/baldur-go/baldur/internal/strhash"
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

// salt is the per-experiment seed of the cohort hash: FNV-1a of the ID,
// mixed once, so every replica puts a key in the same cohort.
func salt(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return mix(h^hashP0, hashP1)
}

// The cohort hash's odd constants.
const (
	hashP0 = 0xa0761d6478bd642f
	hashP1 = 0xe7037ed1a0b428db
	hashP2 = 0x8ebc6af09c88c6e3
)

// cohortHash hashes key under an experiment's salt. A key of up to 16
// bytes (an address, a tenant) is two loads and two dependent
// multiplications; longer keys take one more per 16 bytes. Stable across
// processes and releases: the cohorts of a running experiment must not
// move (ExampleCohort and TestCohortHashIsPinned pin it).
func cohortHash(s uint64, key string) uint64 {
	a, b, s := strhash.Lanes(s, hashP1, key) // a constant round key: the hash is public by design
	return mix(hashP2^uint64(len(key)), mix(a^hashP1, b^s))
}

// word and mix are the hash's primitives, shared with the process-seeded
// hash of the in-memory tables (internal/strhash).
func word(key string, i int) uint64 { return strhash.Word(key, i) }
func mix(a, b uint64) uint64        { return strhash.Mix(a, b) }

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
// The cheap tests come first, so that a call the experiment does not
// target never reaches the hash.
func (a *armed) match(c *baldur.Call) (cohort, uint64, bool) {
	if a.tiers&(1<<c.Tier) == 0 || !a.inScope(c) || c.Key == "" {
		return 0, 0, false
	}
	if w := &a.prefixWords; w.n != 0 {
		// opExact or opPrefix of 8 to 16 bytes, the common patterns: two
		// word compares, written out because prefixOf is over the
		// inlining budget.
		op := c.Operation
		if len(op) < w.n || (a.opKind == opExact && len(op) != w.n) || word(op, 0) != w.w0 || word(op, w.n-8) != w.w1 {
			return 0, 0, false
		}
	} else if a.opKind != opAny && !a.opMatch(c.Operation) {
		return 0, 0, false
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

// inScope reports whether c is of the service and region a targets.
func (a *armed) inScope(c *baldur.Call) bool {
	return (a.service == "" || a.service == c.Service) && (a.region == "" || a.region == c.Region)
}

// opMatch reports whether op matches a's operation pattern.
func (a *armed) opMatch(op string) bool {
	switch a.opKind {
	case opExact:
		return op == a.op
	case opPrefix:
		return strings.HasPrefix(op, a.prefix)
	case opAffix:
		return len(op) >= len(a.prefix)+len(a.suffix) && strings.HasPrefix(op, a.prefix) && strings.HasSuffix(op, a.suffix)
	case opGlob:
		return glob.Match(a.op, op)
	}
	return true
}

// words holds a string of 8 to 16 bytes as two overlapping little-endian
// words, so that testing it as a prefix is two loads and compares instead
// of a call to the runtime's memequal; n is 0 for other lengths, so the
// zero words means "compare by call".
type words struct {
	n      int
	w0, w1 uint64
}

func wordsOf(p string) words {
	if len(p) < 8 || len(p) > 16 {
		return words{}
	}
	return words{n: len(p), w0: word(p, 0), w1: word(p, len(p)-8)}
}

// prefixOf reports strings.HasPrefix(s, p), where w is wordsOf(p).
// Small enough to inline; other lengths take the call.
func (w *words) prefixOf(s, p string) bool {
	if w.n == 0 {
		return strings.HasPrefix(s, p)
	}
	return len(s) >= w.n && word(s, 0) == w.w0 && word(s, w.n-8) == w.w1
}
