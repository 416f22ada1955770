// Package gatetest is the conformance suite of the baldur.Gate contract.
// Every gate of the gate packages (governance, throttle, blast, bulkhead)
// runs it from its own tests with Run, so a gate that breaks a shared rule
// fails where it is built, not in an adapter:
//
//   - a permit is released once: a second Release through the same Permit is
//     a no-op, and the gate's accounting shows it;
//   - a done context is reported first by a gate that waits: Admit returns
//     ctx.Err() unwrapped and holds no permit, even when it would reject; a
//     gate that never waits may ignore ctx, but never wraps or replaces it;
//   - a rejection is a bare *baldur.Rejection of the gate's own stage that
//     holds nothing, so a Policy counts it and can shadow it;
//   - admit and release allocate nothing (and, for a gate that rejects
//     without waiting, neither does a rejection);
//   - many goroutines admitting, rejecting, cancelling and releasing at once
//     never hold more than the gate's limit and leave its accounting at zero
//     (run with -race);
//   - the outcome reaches the gate on release, through a Permit and through a
//     Policy's Ticket (a breaker learns a failure, the error budget counts it),
//     and an Ignored outcome teaches nothing.
//
// Time is never slept away: a gate whose rejections wait on its clock hands
// the suite its clock.Fake, which the suite advances.
package gatetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
)

// Harness builds the gate under test.
type Harness struct {
	// New returns a fresh gate and what the suite needs to drive it. It is
	// called once per check, so checks do not see one another's state.
	New func(t testing.TB) *Subject
}

// Subject is one gate and its probes.
type Subject struct {
	// Gate is the gate under test. Required.
	Gate baldur.Gate
	// Call is the call the suite admits. Its Now should be set from the
	// gate's (fake) clock, so that admitting reads no clock.
	Call baldur.Call
	// InUse reports what the gate holds for admitted calls (permits
	// granted, in-flight slots, queued waiters). It must be back to zero
	// once every permit is released. Nil for a gate that holds nothing.
	InUse func() int
	// Limit is the most permits the gate may have granted at once, checked
	// by the hammer. Zero means unbounded.
	Limit int
	// Waits reports that Admit may wait and so consults ctx: a done context
	// makes it return ctx.Err() unwrapped before anything else.
	Waits bool
	// WaitClock is the clock a gate times its waits with when a full gate
	// waits before it rejects (a semaphore with MaxWait). The suite
	// advances it to end the waits it expects to time out. Nil when
	// rejections do not wait.
	WaitClock *clock.Fake
	// Reject, when set, puts the gate in a state where Call is rejected (a
	// kill switch, a forced-open breaker). When nil the suite admits Call
	// and holds the permits until the gate rejects.
	Reject func(t testing.TB)
	// Learn, when set, checks that the gate learns from outcomes.
	Learn *Learn
}

// Learn describes how a gate shows that it learned from outcomes.
type Learn struct {
	// Outcome is what each released call reports (a failure, say).
	Outcome baldur.Outcome
	// Times is how many released outcomes the gate needs before Learned
	// reports true. At least 2, so that a double-counted release shows.
	Times int
	// Learned reports whether the gate has taken in at least Times
	// outcomes (a breaker is open, a budget counts Times failures).
	Learned func() bool
}

// maxDrain bounds the admissions the suite makes to fill a gate.
const maxDrain = 1 << 14

// Run runs every check of the suite against the gates h builds.
func Run(t *testing.T, h Harness) {
	t.Helper()
	require.NotNil(t, h.New, "Harness.New")
	t.Run("Stage", func(t *testing.T) { checkStage(t, h.New(t)) })
	t.Run("ReleaseOnce", func(t *testing.T) { checkReleaseOnce(t, h.New(t)) })
	t.Run("DoneContext", func(t *testing.T) { checkDoneContext(t, h.New(t)) })
	t.Run("DoneContextWhenFull", func(t *testing.T) { checkDoneContextWhenFull(t, h.New(t)) })
	t.Run("CancelWhileWaiting", func(t *testing.T) { checkCancelWhileWaiting(t, h.New(t)) })
	t.Run("Rejection", func(t *testing.T) { checkRejection(t, h.New(t)) })
	t.Run("Policy", func(t *testing.T) { checkPolicy(t, h.New(t)) })
	t.Run("ZeroAllocs", func(t *testing.T) { checkZeroAllocs(t, h.New(t)) })
	t.Run("RejectZeroAllocs", func(t *testing.T) { checkRejectZeroAllocs(t, h.New(t)) })
	t.Run("Hammer", func(t *testing.T) { checkHammer(t, h.New(t)) })
	t.Run("OutcomeDelivered", func(t *testing.T) { checkOutcomeDelivered(t, h.New(t)) })
	t.Run("DoubleReleaseNotLearned", func(t *testing.T) { checkDoubleReleaseNotLearned(t, h.New(t)) })
	t.Run("IgnoredNotLearned", func(t *testing.T) { checkIgnoredNotLearned(t, h.New(t)) })
	t.Run("OutcomeThroughTicket", func(t *testing.T) { checkOutcomeThroughTicket(t, h.New(t)) })
}

func (s *Subject) inUse() int {
	if s.InUse == nil {
		return 0
	}
	return s.InUse()
}

// admit admits s.Call and requires the admission.
func (s *Subject) admit(t testing.TB, ctx context.Context) baldur.Permit {
	t.Helper()
	p, err := s.Gate.Admit(ctx, s.Call)
	require.NoError(t, err, "Admit of the harness call")
	return p
}

// admitRejected admits s.Call on a gate that must reject it, advancing the
// wait clock when the gate waits before rejecting.
func (s *Subject) admitRejected(t testing.TB) error {
	t.Helper()
	p, err := s.admitTimed(t, context.Background())
	require.Error(t, err, "the gate admitted a call it had to reject")
	require.False(t, p.Held(), "a rejected call holds a permit")
	return err
}

type admission struct {
	p   baldur.Permit
	err error
}

// admitTimed admits s.Call; with a WaitClock it runs the admission in a
// goroutine and moves the clock past every timer the admission arms, so a
// wait for a permit that never comes ends in its rejection.
func (s *Subject) admitTimed(t testing.TB, ctx context.Context) (baldur.Permit, error) {
	t.Helper()
	if s.WaitClock == nil {
		return s.Gate.Admit(ctx, s.Call)
	}
	done := make(chan admission, 1)
	go func() {
		p, err := s.Gate.Admit(ctx, s.Call)
		done <- admission{p, err}
	}()
	for {
		select {
		case a := <-done:
			return a.p, a.err
		default:
		}
		if s.WaitClock.Pending() > 0 {
			s.WaitClock.Advance(time.Hour)
		}
		runtime.Gosched()
	}
}

// fill makes the gate reject s.Call and returns the permits it took to get
// there, for the caller to release.
func (s *Subject) fill(t testing.TB) []baldur.Permit {
	t.Helper()
	if s.Reject != nil {
		s.Reject(t)
		return nil
	}
	var held []baldur.Permit
	for range maxDrain {
		if s.WaitClock == nil {
			p, err := s.Gate.Admit(context.Background(), s.Call)
			if err != nil {
				return held
			}
			held = append(held, p)
			continue
		}
		// A full waiting gate parks the admission until its clock moves.
		if s.Limit > 0 && len(held) >= s.Limit {
			return held
		}
		p, err := s.admitTimed(t, context.Background())
		if err != nil {
			return held
		}
		held = append(held, p)
	}
	releaseAll(held)
	require.Failf(t, "gate never rejects", "%d admissions of the harness call were all admitted; give the harness a Reject hook", maxDrain)
	return nil
}

func releaseAll(ps []baldur.Permit) {
	for i := range ps {
		ps[i].Release(baldur.Outcome{Result: baldur.Success})
	}
}

func checkStage(t *testing.T, s *Subject) {
	stage := s.Gate.Stage()
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "gatetest", Gates: []baldur.Gate{s.Gate}})
	require.NoError(t, err, "NewPolicy refuses the gate's stage %v", stage)
	require.Len(t, p.Gates(), 1)
	assert.Equal(t, stage, s.Gate.Stage(), "Stage is not stable")
}

func checkReleaseOnce(t *testing.T, s *Subject) {
	ctx := context.Background()
	p1 := s.admit(t, ctx)
	p2 := s.admit(t, ctx)
	if s.InUse == nil {
		// Nothing to account: releasing twice must still be harmless.
		p1.Release(baldur.Outcome{Result: baldur.Success})
		p1.Release(baldur.Outcome{Result: baldur.Success})
		require.False(t, p1.Held(), "a released permit still holds")
		p2.Release(baldur.Outcome{Result: baldur.Success})
		return
	}
	require.True(t, p1.Held(), "a gate that accounts for calls granted an empty permit")
	require.Equal(t, 2, s.inUse(), "two admitted calls")
	p1.Release(baldur.Outcome{Result: baldur.Success})
	require.False(t, p1.Held(), "a released permit still holds")
	assert.Equal(t, 1, s.inUse(), "after one release")
	p1.Release(baldur.Outcome{Result: baldur.Success})
	assert.Equal(t, 1, s.inUse(), "a second Release gave back the other call's share")
	p2.Release(baldur.Outcome{Result: baldur.Success})
	assert.Equal(t, 0, s.inUse(), "after both releases")

	var zero baldur.Permit
	zero.Release(baldur.Outcome{}) // the zero Permit releases nothing
	assert.Equal(t, 0, s.inUse(), "releasing the zero Permit")
}

func doneContexts() map[string]func() context.Context {
	return map[string]func() context.Context{
		"canceled": func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		},
		"deadline": func() context.Context {
			ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
			cancel() // Err stays DeadlineExceeded
			return ctx
		},
	}
}

// requireCtxErr requires err to be exactly ctx.Err(), with no permit held.
func requireCtxErr(t testing.TB, ctx context.Context, p baldur.Permit, err error) {
	t.Helper()
	require.Error(t, err, "a done context was admitted")
	require.True(t, err == ctx.Err(), "err = %v (%T), want ctx.Err() %v unwrapped", err, err, ctx.Err())
	_, isRej := baldur.AsRejection(err)
	require.False(t, isRej, "a done context is reported as a rejection")
	require.False(t, p.Held(), "a done context holds a permit")
}

// requireCtxOrRejection accepts what a gate that never waits may do with a
// done context: admit, reject, or return ctx.Err() unwrapped.
func requireCtxOrRejection(t testing.TB, ctx context.Context, p baldur.Permit, err error) {
	t.Helper()
	if err == nil {
		return
	}
	require.False(t, p.Held(), "a failed admission holds a permit")
	if err == ctx.Err() {
		return
	}
	_, ok := err.(*baldur.Rejection)
	require.True(t, ok, "err = %v (%T): neither ctx.Err() unwrapped nor a *baldur.Rejection", err, err)
}

func checkDoneContext(t *testing.T, s *Subject) {
	for name, mk := range doneContexts() {
		t.Run(name, func(t *testing.T) {
			base := s.inUse()
			ctx := mk()
			p, err := s.Gate.Admit(ctx, s.Call)
			if s.Waits {
				requireCtxErr(t, ctx, p, err)
			} else {
				requireCtxOrRejection(t, ctx, p, err)
				p.Release(baldur.Outcome{Result: baldur.Ignored})
			}
			assert.Equal(t, base, s.inUse(), "a done context left the gate's accounting changed")
		})
	}
}

func checkDoneContextWhenFull(t *testing.T, s *Subject) {
	held := s.fill(t)
	defer releaseAll(held)
	base := s.inUse()
	for name, mk := range doneContexts() {
		t.Run(name, func(t *testing.T) {
			ctx := mk()
			p, err := s.Gate.Admit(ctx, s.Call)
			if s.Waits {
				// The context comes first, before the rejection.
				requireCtxErr(t, ctx, p, err)
			} else {
				requireCtxOrRejection(t, ctx, p, err)
				require.False(t, p.Held(), "a full gate granted a permit")
			}
			assert.Equal(t, base, s.inUse(), "a done context left the gate's accounting changed")
		})
	}
}

func checkCancelWhileWaiting(t *testing.T, s *Subject) {
	if s.WaitClock == nil {
		t.Skip("the gate's rejections do not wait")
	}
	held := s.fill(t)
	defer releaseAll(held)
	base := s.inUse()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan admission, 1)
	go func() {
		p, err := s.Gate.Admit(ctx, s.Call)
		done <- admission{p, err}
	}()
	// Wait (without letting fake time pass) until the admission waits.
	for s.WaitClock.Pending() == 0 {
		select {
		case a := <-done:
			require.Failf(t, "a full waiting gate did not wait", "Admit returned %v at once", a.err)
		default:
		}
		runtime.Gosched()
	}
	cancel()
	a := <-done
	requireCtxErr(t, ctx, a.p, a.err)
	assert.Equal(t, base, s.inUse(), "a cancelled waiter is still accounted for")
}

func checkRejection(t *testing.T, s *Subject) {
	held := s.fill(t)
	base := s.inUse()
	err := s.admitRejected(t)
	rej, ok := err.(*baldur.Rejection)
	require.True(t, ok, "the rejection is %T, want a bare *baldur.Rejection (Policy counts and shadows only those)", err)
	assert.ErrorIs(t, err, baldur.ErrRejected)
	assert.ErrorIs(t, err, rej.Reason().Sentinel())
	assert.Equal(t, s.Gate.Stage(), rej.Reason().Stage(), "rejection reason %v belongs to another stage", rej.Reason())
	assert.GreaterOrEqual(t, rej.RetryAfterSeconds(), int64(0))
	assert.Equal(t, base, s.inUse(), "a rejection changed the gate's accounting")
	releaseAll(held)
	assert.Equal(t, 0, s.inUse(), "after releasing every permit")
}

func checkPolicy(t *testing.T, s *Subject) {
	ctx := context.Background()
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "gatetest", Gates: []baldur.Gate{s.Gate}})
	require.NoError(t, err)
	tk, err := p.Admit(ctx, s.Call)
	require.NoError(t, err)
	if s.InUse != nil {
		require.True(t, tk.Held(), "the ticket of an accounted gate holds nothing")
		require.Equal(t, 1, s.inUse())
	}
	tk.Release(baldur.Outcome{Result: baldur.Success})
	tk.Release(baldur.Outcome{Result: baldur.Success})
	require.False(t, tk.Held())
	require.Equal(t, 0, s.inUse(), "after releasing a ticket twice")

	held := s.fill(t)
	defer releaseAll(held)
	err = s.admitRejected(t)
	rej, ok := baldur.AsRejection(err)
	require.True(t, ok, "%v is no rejection", err)
	reason := rej.Reason()
	before := p.Rejected(reason)
	if s.WaitClock == nil {
		_, err = p.Admit(ctx, s.Call)
		require.ErrorIs(t, err, reason.Sentinel())
		assert.Equal(t, before+1, p.Rejected(reason), "the policy did not count the gate's rejection")
	}

	// A shadowed gate's rejection is counted and the call goes on.
	sp, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "shadow", Gates: []baldur.Gate{s.Gate}, Shadow: []baldur.Stage{s.Gate.Stage()}})
	require.NoError(t, err)
	if s.WaitClock == nil {
		tk, err = sp.Admit(ctx, s.Call)
		require.NoError(t, err, "a shadow gate enforced its rejection")
		tk.Release(baldur.Outcome{Result: baldur.Ignored})
		assert.Equal(t, uint64(1), sp.Shadowed(reason), "the shadow rejection was not counted")
	}
}

func checkZeroAllocs(t *testing.T, s *Subject) {
	ctx := context.Background()
	var failed atomic.Bool
	n := testing.AllocsPerRun(1000, func() {
		p, err := s.Gate.Admit(ctx, s.Call)
		if err != nil {
			failed.Store(true)
			return
		}
		p.Release(baldur.Outcome{Result: baldur.Success})
	})
	require.False(t, failed.Load(), "the harness call was rejected during the run: give the gate room for 1001 admissions")
	assert.Zero(t, n, "admit+release allocates")
	assert.Equal(t, 0, s.inUse())
}

func checkRejectZeroAllocs(t *testing.T, s *Subject) {
	if s.WaitClock != nil {
		t.Skip("the gate waits before it rejects; waiting is not the hot path")
	}
	held := s.fill(t)
	defer releaseAll(held)
	ctx := context.Background()
	// Spend what a first rejection may pay once (an audit burst, an
	// interned Rejection) before measuring.
	for range 100 {
		_, err := s.Gate.Admit(ctx, s.Call)
		require.Error(t, err)
	}
	var admitted atomic.Bool
	n := testing.AllocsPerRun(1000, func() {
		p, err := s.Gate.Admit(ctx, s.Call)
		if err == nil {
			admitted.Store(true)
			p.Release(baldur.Outcome{Result: baldur.Ignored})
		}
	})
	require.False(t, admitted.Load(), "a full gate admitted the harness call")
	assert.Zero(t, n, "a rejection allocates")
}

// hammer sizes: enough to interleave every path under -race on two cores.
const (
	hammerGoroutines = 8
	hammerRounds     = 400
)

func checkHammer(t *testing.T, s *Subject) {
	var (
		wg        sync.WaitGroup
		held      atomic.Int64 // permits the hammer holds right now
		admitted  atomic.Int64
		maxHeld   atomic.Int64
		badOnce   sync.Once
		badErr    atomic.Value
		outcomes  = [...]baldur.Result{baldur.Success, baldur.Ignored, baldur.Success, baldur.Failure}
		cancelled = doneContexts()["canceled"]()
	)
	bad := func(format string, args ...any) {
		badOnce.Do(func() { badErr.Store(fmt.Sprintf(format, args...)) })
	}
	for g := range hammerGoroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range hammerRounds {
				ctx := context.Background()
				var cancel context.CancelFunc
				switch (g + i) % 8 {
				case 3:
					ctx = cancelled
				case 5:
					// Cancelled while the admission may be in progress.
					ctx, cancel = context.WithCancel(ctx)
					go cancel()
				}
				p, err := s.Gate.Admit(ctx, s.Call)
				if err != nil {
					if p.Held() {
						bad("a failed admission holds a permit: %v", err)
					}
					var rej *baldur.Rejection
					if err != ctx.Err() && !errors.As(err, &rej) {
						bad("err = %v (%T): neither ctx.Err() nor a rejection", err, err)
					}
				} else {
					admitted.Add(1)
					if p.Held() {
						n := held.Add(1)
						for m := maxHeld.Load(); n > m && !maxHeld.CompareAndSwap(m, n); m = maxHeld.Load() {
						}
						runtime.Gosched() // hold it across a scheduling point
						held.Add(-1)
					}
					p.Release(baldur.Outcome{Result: outcomes[(g+i)%len(outcomes)], Latency: time.Millisecond})
				}
				if cancel != nil {
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	if msg := badErr.Load(); msg != nil {
		require.Fail(t, msg.(string))
	}
	require.Positive(t, admitted.Load(), "the hammer admitted nothing")
	if s.Limit > 0 {
		assert.LessOrEqual(t, maxHeld.Load(), int64(s.Limit), "more permits held at once than the gate's limit")
	}
	assert.Equal(t, 0, s.inUse(), "accounting after every permit was released")
}

func checkOutcomeDelivered(t *testing.T, s *Subject) {
	l := s.learn(t)
	ctx := context.Background()
	for i := range l.Times {
		require.False(t, l.Learned(), "learned after %d of %d outcomes", i, l.Times)
		p := s.admit(t, ctx)
		p.Release(l.Outcome)
	}
	assert.True(t, l.Learned(), "the gate did not learn from %d released outcomes %+v", l.Times, l.Outcome)
}

func checkDoubleReleaseNotLearned(t *testing.T, s *Subject) {
	l := s.learn(t)
	ctx := context.Background()
	for range l.Times - 1 {
		p := s.admit(t, ctx)
		p.Release(l.Outcome)
		p.Release(l.Outcome)
	}
	require.False(t, l.Learned(), "%d permits released twice each counted as more outcomes", l.Times-1)
	p := s.admit(t, ctx)
	p.Release(l.Outcome)
	assert.True(t, l.Learned(), "the gate did not learn from %d outcomes", l.Times)
}

func checkIgnoredNotLearned(t *testing.T, s *Subject) {
	l := s.learn(t)
	ctx := context.Background()
	for range 2 * l.Times {
		p := s.admit(t, ctx)
		o := l.Outcome
		o.Result = baldur.Ignored
		p.Release(o)
	}
	assert.False(t, l.Learned(), "the gate learned from Ignored outcomes")
}

func checkOutcomeThroughTicket(t *testing.T, s *Subject) {
	l := s.learn(t)
	ctx := context.Background()
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "gatetest", Gates: []baldur.Gate{s.Gate}})
	require.NoError(t, err)
	for range l.Times {
		require.False(t, l.Learned())
		tk, err := p.Admit(ctx, s.Call)
		require.NoError(t, err)
		tk.Release(l.Outcome)
		tk.Release(l.Outcome)
	}
	assert.True(t, l.Learned(), "outcomes released through a Ticket did not reach the gate")
}

func (s *Subject) learn(t *testing.T) *Learn {
	t.Helper()
	if s.Learn == nil {
		t.Skip("the gate does not learn from outcomes")
	}
	require.GreaterOrEqual(t, s.Learn.Times, 2, "Learn.Times")
	require.NotNil(t, s.Learn.Learned, "Learn.Learned")
	return s.Learn
}
