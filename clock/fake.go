package clock

import (
	"sort"
	"sync"
	"time"

	"github.com/baldur-go/baldur"
)

// Fake is a manually advanced baldur.Clock. It is safe for concurrent use.
// Functions given to AfterFunc run in their own goroutine when Advance or Set
// moves the time past their deadline, as with time.AfterFunc.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	seq    uint64
}

var _ baldur.Clock = (*Fake)(nil)

// NewFake returns a Fake clock reading start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the time forward by d and fires the timers that came due, in
// deadline order. A negative d is ignored.
func (f *Fake) Advance(d time.Duration) {
	if d < 0 {
		return
	}
	f.mu.Lock()
	t := f.now.Add(d)
	f.mu.Unlock()
	f.Set(t)
}

// Set moves the time to t (never backwards) and fires the timers that came due.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	if t.After(f.now) {
		f.now = t
	}
	now := f.now
	var due, keep []*fakeTimer
	for _, tm := range f.timers {
		if !tm.at.After(now) {
			due = append(due, tm)
		} else {
			keep = append(keep, tm)
		}
	}
	f.timers = keep
	f.mu.Unlock()
	sort.Slice(due, func(i, j int) bool {
		if due[i].at.Equal(due[j].at) {
			return due[i].seq < due[j].seq
		}
		return due[i].at.Before(due[j].at)
	})
	for _, tm := range due {
		if tm.fire() {
			go tm.f()
		}
	}
}

// Pending returns how many timers have not fired or been stopped. Tests use
// it to wait until the code under test has armed its timer before advancing.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// AfterFunc arranges for fn to run once the fake time reaches now+d. A
// non-positive d fires on the next Advance or Set, even by zero.
func (f *Fake) AfterFunc(d time.Duration, fn func()) baldur.Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	tm := &fakeTimer{clock: f, at: f.now.Add(d), f: fn, seq: f.seq}
	f.timers = append(f.timers, tm)
	return tm
}

type fakeTimer struct {
	clock *Fake
	at    time.Time
	f     func()
	seq   uint64

	mu   sync.Mutex
	done bool
}

func (t *fakeTimer) fire() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	return true
}

// Stop prevents the timer from firing and reports whether it did.
func (t *fakeTimer) Stop() bool {
	if !t.fire() {
		return false
	}
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, tm := range f.timers {
		if tm == t {
			f.timers = append(f.timers[:i], f.timers[i+1:]...)
			break
		}
	}
	return true
}
