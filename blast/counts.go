package blast

// The counting below is a port of github.com/sony/gobreaker/v2's Counts and
// rollingCounts (MIT licence, v2.4.0), kept line for line where it decides a
// trip, so that a partition trips exactly when a plain gobreaker fed the same
// outcomes would (see differential_test.go). The port exists because the
// library reads time.Now itself (no injected clock) and its two-step API
// allocates a closure per call.

// counts mirrors gobreaker.Counts.
type counts struct {
	requests             uint32
	totalSuccesses       uint32
	totalFailures        uint32
	totalExclusions      uint32
	consecutiveSuccesses uint32
	consecutiveFailures  uint32
}

func (c *counts) onRequest() { c.requests++ }

func (c *counts) onSuccess() {
	c.totalSuccesses++
	c.consecutiveSuccesses++
	c.consecutiveFailures = 0
}

// onSuccesses is n calls of onSuccess at once (n > 0).
func (c *counts) onSuccesses(n uint32) {
	c.totalSuccesses += n
	c.consecutiveSuccesses += n
	c.consecutiveFailures = 0
}

func (c *counts) onFailure() {
	c.totalFailures++
	c.consecutiveFailures++
	c.consecutiveSuccesses = 0
}

func (c *counts) onExclusion() { c.totalExclusions++ }

func (c *counts) validRequests() uint32 {
	if c.requests < c.totalExclusions {
		return 0
	}
	return c.requests - c.totalExclusions
}

func (c *counts) clear() { *c = counts{} }

// window mirrors gobreaker's rollingCounts: the totals over a ring of
// buckets, each covering one bucket period. age is the number of bucket
// periods since the generation started.
type window struct {
	counts
	age     uint64
	buckets []counts
}

func newWindow(n int) window { return window{buckets: make([]counts, n)} }

func (w *window) index(age uint64) uint64 { return age % uint64(len(w.buckets)) }

func (w *window) current() uint64 { return w.index(w.age) }

func (w *window) onRequest() {
	w.counts.onRequest()
	w.buckets[w.current()].onRequest()
}

// inWindow reports whether a call that started at age still counts.
func (w *window) inWindow(age uint64) bool {
	return age <= w.age && w.age-age < uint64(len(w.buckets))
}

func (w *window) onSuccess(age uint64) {
	if w.inWindow(age) {
		w.counts.onSuccess()
		w.buckets[w.index(age)].onSuccess()
	}
}

// onSuccesses is n calls of onSuccess(age) at once (n > 0): the successes
// that Release counted without the lock, folded in by the lock's holder.
func (w *window) onSuccesses(age uint64, n uint32) {
	if w.inWindow(age) {
		w.counts.onSuccesses(n)
		w.buckets[w.index(age)].onSuccesses(n)
	}
}

func (w *window) onFailure(age uint64) {
	if w.inWindow(age) {
		w.counts.onFailure()
		w.buckets[w.index(age)].onFailure()
	}
}

func (w *window) onExclusion(age uint64) {
	if w.inWindow(age) {
		w.counts.onExclusion()
		w.buckets[w.index(age)].onExclusion()
	}
}

func (w *window) clear() {
	w.counts.clear()
	w.age = 0
	for i := range w.buckets {
		w.buckets[i].clear()
	}
}

func (w *window) roll() {
	w.age++
	cur := w.current()
	w.subtract(cur)
	w.buckets[cur].clear()
}

// subtract removes the oldest bucket from the totals. Consecutive runs are
// only shortened when the run spans the whole window, as gobreaker does.
func (w *window) subtract(oldest uint64) {
	n := uint64(len(w.buckets))
	oldest %= n
	b := w.buckets[oldest]

	succ := b.consecutiveSuccesses
	for i := uint64(1); i < n; i++ {
		succ += w.buckets[(oldest+i)%n].totalSuccesses
	}
	if w.consecutiveSuccesses == succ {
		w.consecutiveSuccesses = sub(w.consecutiveSuccesses, b.consecutiveSuccesses)
	}
	fail := b.consecutiveFailures
	for i := uint64(1); i < n; i++ {
		fail += w.buckets[(oldest+i)%n].totalFailures
	}
	if w.consecutiveFailures == fail {
		w.consecutiveFailures = sub(w.consecutiveFailures, b.consecutiveFailures)
	}
	w.requests = sub(w.requests, b.requests)
	w.totalSuccesses = sub(w.totalSuccesses, b.totalSuccesses)
	w.totalFailures = sub(w.totalFailures, b.totalFailures)
	w.totalExclusions = sub(w.totalExclusions, b.totalExclusions)
}

func sub(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return 0
}

// grow advances the window to age, dropping the buckets that fell out.
func (w *window) grow(age uint64) {
	if age <= w.age {
		return
	}
	diff := age - w.age
	if diff >= uint64(len(w.buckets)) {
		w.clear()
		w.age = age
		return
	}
	for range diff {
		w.roll()
	}
}

// tripRule is the closed-state trip predicate: consecutive failures, or a
// failure ratio over the window once enough outcomes were seen. Excluded
// (ignored) calls count in neither.
type tripRule struct {
	consecutive uint32
	ratio       float64
	minRequests uint32
}

func (r tripRule) ready(c counts) bool {
	if c.consecutiveFailures >= r.consecutive {
		return true
	}
	n := c.totalSuccesses + c.totalFailures
	return n >= r.minRequests && float64(c.totalFailures) >= r.ratio*float64(n)
}
