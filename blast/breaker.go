package blast

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/proc"
)

// breaker is one partition's circuit breaker: gobreaker's state machine
// (generations, rolling window, half-open probes) driven by the call's own
// clock reading, plus an operator's force that outranks it.
//
// Every field under mu changes together. The atomics mirror what admission
// needs so that a closed or open breaker admits or rejects without the lock.
// word works as a seqlock: publish stores busy, then start, age and until,
// then the new word, so a reader that sees the same word before and after
// its reads has a consistent set.
//
// Epochs replace gobreaker's generations: epoch grows on every generation
// and on every roll of the window, so one epoch names one (generation,
// bucket) pair, and genEpoch is the epoch the current generation began at.
// A token carries the epoch it was admitted in; the tokens of the current
// generation are those from genEpoch to epoch.
//
// A closed-state success is the common outcome and touches no lock: it adds
// one to ok, which holds the current epoch and the successes of that epoch
// not yet folded into win. The add is a compare-and-swap that succeeds only
// while the epoch is the token's, so the success lands in the bucket its
// call started in. Whoever holds mu folds ok into win before anything that
// reads the counts (a failure, a roll), which orders those successes before
// it, exactly as if each had taken the lock. ok is striped by the P the
// success runs on (package internal/proc), so that cores counting the
// successes of one partition add to their own cache lines; a fold swaps
// every stripe. A process on one P writes stripe 0 only.
type breaker struct {
	set  *Breakers
	part Partition
	h    uint64 // the partition's hash, its key in the shard's table

	word     atomic.Uint64 // epoch<<32 | effective State, or busy
	startNs  atomic.Int64  // generation start
	age      atomic.Uint64 // window age after the last roll
	bucketNs atomic.Int64  // start of the current bucket: startNs + age*period
	untilNs  atomic.Int64  // end of the open state or of the force
	lastUsed atomic.Int64  // coarse (touchEvery) time of last admission
	// counted reports that the breaker holds one of the set's force slots
	// (Breakers.forced): set by Breakers.force under the shard's lock,
	// cleared by whoever ends the force or evicts the breaker first.
	counted atomic.Bool

	// ok is written by every success: 64 bytes before it keep it off the
	// cache line of the atomics that admission reads.
	_  [64]byte
	ok [okStripes]pendingOK

	mu         sync.Mutex
	state      State // StateClosed, StateHalfOpen or StateOpen
	force      State // 0, StateForcedOpen or StateForcedClosed
	epoch      uint32
	genEpoch   uint32
	start      int64
	expiry     int64 // end of the open state
	forceUntil int64
	win        window
}

const (
	halfOpenBit = 1 << 31
	ageMask     = halfOpenBit - 1
	touchEvery  = int64(time.Second)
	busy        = 0xff // word's state while publish runs
	// okStripes is the number of stripes of a breaker's unfolded
	// successes, a power of two.
	okStripes = 4
	// maxPending bounds the unfolded successes of a stripe, so that the
	// stripes' sum fits the window's 32-bit counts; past it a success takes
	// the lock and folds.
	maxPending = 1 << 31 / okStripes
)

// pendingOK is one stripe of a breaker's unfolded successes, alone on its
// cache line.
type pendingOK struct {
	v atomic.Uint64 // epoch<<32 | successes not yet folded into win
	_ [56]byte
}

func newBreaker(set *Breakers, p Partition, h uint64, now int64) *breaker {
	br := &breaker{set: set, part: p, h: h, start: now, win: newWindow(set.buckets)}
	br.lastUsed.Store(now)
	br.publish()
	return br
}

func (br *breaker) effective() State {
	if br.force != 0 {
		return br.force
	}
	return br.state
}

// publish mirrors the locked state into the atomics, between two stores of
// word (see breaker).
func (br *breaker) publish() {
	br.word.Store(busy)
	br.startNs.Store(br.start)
	br.age.Store(br.win.age)
	br.bucketNs.Store(br.start + int64(br.win.age)*br.set.period)
	switch {
	case br.force != 0:
		br.untilNs.Store(br.forceUntil)
	case br.state == StateOpen:
		br.untilNs.Store(br.expiry)
	default:
		br.untilNs.Store(0)
	}
	br.word.Store(uint64(br.epoch)<<32 | uint64(br.effective()))
}

func (br *breaker) ageAt(now int64) uint64 {
	d := now - br.start
	if d <= 0 {
		return 0
	}
	return uint64(d / br.set.period)
}

func token(epoch uint32, half bool, age uint64) uint64 {
	t := uint64(epoch)<<32 | age&ageMask
	if half {
		t |= halfOpenBit
	}
	return t
}

// closedToken is the token of a closed-state call of the given age while
// the window is at cur (age <= cur). A call that started in an older bucket
// gets the previous epoch, still of this generation (cur > 0 means the
// window rolled, so epoch > genEpoch), which no success can match in ok, so
// its outcome takes the lock and lands in its own bucket.
func closedToken(epoch uint32, age, cur uint64) uint64 {
	if age < cur {
		epoch--
	}
	return token(epoch, false, age)
}

// inGen reports whether an outcome of a call admitted in epoch e belongs
// to the current generation. Called with mu held.
func (br *breaker) inGen(e uint32) bool { return e-br.genEpoch <= br.epoch-br.genEpoch }

// fold moves the successes counted in ok into the current bucket and sets
// ok to epoch (the same one, or the next one when the window is about to
// roll). Called with mu held, in the closed state.
func (br *breaker) fold(epoch uint32) {
	var n uint32
	for i := range br.ok {
		n += uint32(br.ok[i].v.Swap(uint64(epoch) << 32))
	}
	if n > 0 {
		br.win.onSuccesses(br.win.age, n)
	}
}

func (br *breaker) touch(now int64) {
	if now-br.lastUsed.Load() > touchEvery {
		br.lastUsed.Store(now)
	}
}

// admit is the gate's decision for one call at now.
func (br *breaker) admit(now int64) (baldur.Permit, error) {
	w := br.word.Load()
	switch State(w & 0xff) {
	case StateClosed:
		start, cur, lo := br.startNs.Load(), br.age.Load(), br.bucketNs.Load()
		if br.word.Load() != w {
			break // a publish ran meanwhile
		}
		// Most calls fall in the current bucket: no division for them.
		age := cur
		if d := now - lo; d < 0 || d >= br.set.period {
			age = 0
			if d := now - start; d > 0 {
				age = uint64(d / br.set.period)
			}
		}
		// A stale word yields a token of an old epoch, which Release
		// ignores, exactly like gobreaker's in-flight calls across a trip.
		if age <= cur && cur-age < uint64(br.set.buckets) {
			br.touch(now)
			return baldur.NewPermit(br, closedToken(uint32(w>>32), age, cur)), nil
		}
	case StateOpen:
		if until := br.untilNs.Load(); now <= until {
			br.touch(now)
			return baldur.Permit{}, br.set.rejectFor(until - now)
		}
	case StateForcedOpen:
		if until := br.untilNs.Load(); now < until {
			br.touch(now)
			return baldur.Permit{}, rejectForced(until - now)
		}
	case StateForcedClosed:
		if now < br.untilNs.Load() {
			br.touch(now)
			return baldur.Permit{}, nil
		}
	}
	return br.admitSlow(now)
}

func (br *breaker) admitSlow(now int64) (p baldur.Permit, err error) {
	var t transitions
	br.mu.Lock()
	br.current(now, &t)
	switch br.effective() {
	case StateClosed:
		age := br.ageAt(now)
		if age > br.win.age {
			age = br.win.age
		}
		p = baldur.NewPermit(br, closedToken(br.epoch, age, br.win.age))
	case StateHalfOpen:
		if br.win.validRequests() >= br.set.probes {
			err = br.set.rejectFor(0)
		} else {
			br.win.onRequest()
			p = baldur.NewPermit(br, token(br.epoch, true, br.win.age))
		}
	case StateOpen:
		err = br.set.rejectFor(br.expiry - now)
	case StateForcedOpen:
		err = rejectForced(br.forceUntil - now)
	case StateForcedClosed:
		// admitted, nothing to learn
	}
	br.mu.Unlock()
	br.touch(now)
	br.fire(&t)
	return p, err
}

// Release learns from the outcome of a call admitted with token. Outcomes
// of an earlier generation (admitted before a state change) are ignored.
// Only failures and half-open probes read the clock: a success in the closed
// state needs no time, since it counts in the bucket its call started in,
// and while that bucket is the current one it needs no lock either.
func (br *breaker) Release(tok uint64, o baldur.Outcome) {
	half := tok&halfOpenBit != 0
	res := o.Result
	if res != baldur.Success && res != baldur.Failure {
		res = baldur.Ignored
	}
	if res == baldur.Ignored && !half {
		return // exclusions only matter to the half-open probe count
	}
	epoch, age := uint32(tok>>32), tok&ageMask
	if res == baldur.Success && !half {
		ok := &br.ok[proc.Stripe(br.set.okMask)].v
		for {
			c := ok.Load()
			if uint32(c>>32) != epoch || uint32(c) >= maxPending {
				break
			}
			if ok.CompareAndSwap(c, c+1) {
				return
			}
		}
	}
	timed := half || res == baldur.Failure
	var now int64
	if timed {
		now = br.set.clock.Now().UnixNano()
	}
	var t transitions
	br.mu.Lock()
	if timed {
		br.current(now, &t)
	}
	if br.inGen(epoch) {
		if br.state == StateClosed && br.force == 0 {
			br.fold(br.epoch)
		}
		switch res {
		case baldur.Ignored:
			br.win.onExclusion(age)
		case baldur.Success:
			br.win.onSuccess(age)
			if br.state == StateHalfOpen && br.win.consecutiveSuccesses >= br.set.probes {
				br.setState(StateClosed, now, &t)
			}
		case baldur.Failure:
			switch br.state {
			case StateClosed:
				br.win.onFailure(age)
				if br.set.rule.ready(br.win.counts) {
					br.setState(StateOpen, now, &t)
				}
			case StateHalfOpen:
				br.setState(StateOpen, now, &t)
			}
		}
	}
	br.mu.Unlock()
	br.fire(&t)
}

// current applies the transitions that time alone causes: a force expiring,
// the open timeout passing, the window rolling. Called with mu held.
func (br *breaker) current(now int64, t *transitions) {
	if br.force != 0 {
		if now < br.forceUntil {
			return
		}
		from := br.force
		br.force = 0
		if br.counted.CompareAndSwap(true, false) {
			br.set.forced.Add(-1)
		}
		if from == StateForcedOpen {
			br.state = StateHalfOpen
		} else {
			br.state = StateClosed
		}
		br.newGen(now)
		t.add(from, br.state)
		return
	}
	switch br.state {
	case StateClosed:
		if age := br.ageAt(now); age > br.win.age {
			br.epoch++
			br.fold(br.epoch) // the old bucket's successes, before it rolls
			br.win.grow(age)
			br.publish()
		}
	case StateOpen:
		if br.expiry < now {
			br.setState(StateHalfOpen, now, t)
		}
	}
}

func (br *breaker) setState(to State, now int64, t *transitions) {
	if br.state == to {
		return
	}
	from := br.state
	br.state = to
	br.newGen(now)
	t.add(from, to)
}

func (br *breaker) newGen(now int64) {
	br.epoch++
	br.genEpoch = br.epoch
	for i := range br.ok { // unfolded successes of the old generation are moot
		br.ok[i].v.Store(uint64(br.epoch) << 32)
	}
	br.start = now
	br.win.clear()
	if br.state == StateOpen {
		br.expiry = satAdd(now, br.set.timeout)
	}
	br.publish()
}

// forceTo forces the breaker into st until now + ttl (saturated). The
// caller holds the shard's lock and fires t once it has released it.
func (br *breaker) forceTo(st State, now, ttl int64, t *transitions) {
	br.mu.Lock()
	from := br.effective()
	br.force = st
	br.forceUntil = satAdd(now, ttl)
	br.newGen(now) // outcomes of calls admitted before the force are moot
	if from != st {
		t.add(from, st)
	}
	br.mu.Unlock()
	br.lastUsed.Store(now)
}

func (br *breaker) unforce(now int64) {
	var t transitions
	br.mu.Lock()
	if br.force != 0 {
		br.forceUntil = now
		br.current(now, &t)
	}
	br.mu.Unlock()
	br.fire(&t)
}

// view returns the state at now and when it ends, without changing it.
func (br *breaker) view(now int64) (State, int64) {
	br.mu.Lock()
	defer br.mu.Unlock()
	if br.force != 0 {
		if now < br.forceUntil {
			return br.force, br.forceUntil
		}
		if br.force == StateForcedOpen {
			return StateHalfOpen, 0
		}
		return StateClosed, 0
	}
	if br.state == StateOpen {
		if br.expiry < now {
			return StateHalfOpen, 0
		}
		return StateOpen, br.expiry
	}
	return br.state, 0
}

// evictRank orders partitions for eviction, most evictable first; forced
// ones (until their force ends) are never evicted.
func (br *breaker) evictRank(now int64) (State, bool) {
	w := br.word.Load()
	st := State(w & 0xff)
	if st == busy {
		return st, false // changing right now: not a good victim
	}
	if st.Forced() {
		if now < br.untilNs.Load() {
			return st, false
		}
		return StateClosed, true
	}
	return st, true
}

// transitions collects state changes under the lock so that the hook runs
// after it is released.
type transitions struct {
	n int
	t [3]struct{ from, to State }
}

func (t *transitions) add(from, to State) {
	if t.n < len(t.t) {
		t.t[t.n].from, t.t[t.n].to = from, to
		t.n++
	}
}

func (br *breaker) fire(t *transitions) {
	hook := br.set.hook
	if hook == nil {
		return
	}
	for i := 0; i < t.n; i++ {
		hook(br.part, t.t[i].from, t.t[i].to)
	}
}
