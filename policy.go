package baldur

import (
	"context"
	"fmt"
	"time"
)

// MaxGates bounds the gates of one Policy, so that a Ticket is a fixed-size
// value and admission never allocates: the five kinds a registry file
// declares, a fault and an observe stage of chaos experiments, and the
// observe stage of a canary rollout.
const MaxGates = 8

// PolicyConfig declares a Policy.
type PolicyConfig struct {
	// Name identifies the policy in errors, metrics and logs. Required.
	Name string
	// Gates are the policy's gates in any order; NewPolicy puts them in the
	// order of their stages (governance, throttle, blast, bulkhead),
	// keeping the given order within a stage. At most MaxGates. Nil gates
	// are skipped.
	Gates []Gate
	// Shadow lists stages (StageThrottle, ...) whose gates are evaluated
	// and counted but never enforced: their rejections are recorded and the
	// call goes on. Nil means every gate enforces.
	Shadow []Stage
	// MinTimeLeft rejects a call with ReasonDeadline when its deadline is
	// closer than this. Zero disables the check.
	MinTimeLeft time.Duration
	// Service and Region fill Call.Service and Call.Region of calls whose
	// adapter left them empty, so that a registry's service name reaches
	// every gate (kill-switch scopes, budget regions) without each adapter
	// being told. Empty leaves them as the adapter set them.
	Service, Region string
	// Clock is read once per call when the adapter did not set Call.Now.
	// Nil means SystemClock.
	Clock Clock
}

// Policy is an ordered chain of gates that admits or rejects calls. It is
// immutable after NewPolicy and safe for concurrent use. A nil *Policy admits
// every call, so adapters may treat "no policy" and "allow all" alike.
type Policy struct {
	name        string
	stages      [MaxGates]stage
	n           int
	minTimeLeft time.Duration
	service     string
	region      string
	clock       Clock
	marker      InjectionMarker // the first gate that marks injected permits; nil for most policies
	rejected    [numReasons]counter
	shadowed    [numReasons]counter
}

type stage struct {
	gate   Gate
	shadow bool
	quota  bool          // the gate reports quotas (QuotaReporter)
	qr     QuotaReporter // the gate as a QuotaReporter, asserted once; nil when it is not one
	runner Runner        // the gate runs the call's work; nil for most gates
	marks  bool          // the gate is the policy's marker (InjectionMarker)
}

// NewPolicy validates cfg and returns the Policy it declares.
func NewPolicy(cfg PolicyConfig) (*Policy, error) {
	if cfg.Name == "" {
		return nil, &ConfigError{Field: "Name", Reason: "must not be empty"}
	}
	if cfg.MinTimeLeft < 0 {
		return nil, &ConfigError{Field: "MinTimeLeft", Value: cfg.MinTimeLeft.String(), Reason: "must not be negative"}
	}
	p := &Policy{name: cfg.Name, minTimeLeft: cfg.MinTimeLeft, service: cfg.Service, region: cfg.Region, clock: cfg.Clock}
	if p.clock == nil {
		p.clock = SystemClock()
	}
	var shadow [256]bool
	for _, st := range cfg.Shadow {
		if st == stagePolicy {
			return nil, &ConfigError{Field: "Shadow", Value: st.String(), Reason: "not a gate stage"}
		}
		shadow[st] = true
	}
	// Insertion sort by stage keeps the given order within a stage.
	for _, g := range cfg.Gates {
		if g == nil {
			continue
		}
		st := g.Stage()
		if st == stagePolicy {
			return nil, &ConfigError{Field: "Gates", Value: fmt.Sprintf("%T", g), Reason: "stage 0 is the policy's own deadline check, not a gate stage"}
		}
		if p.n == MaxGates {
			return nil, &ConfigError{Field: "Gates", Value: fmt.Sprint(len(cfg.Gates)), Reason: fmt.Sprintf("at most %d gates", MaxGates)}
		}
		i := p.n
		for i > 0 && p.stages[i-1].gate.Stage() > st {
			p.stages[i] = p.stages[i-1]
			i--
		}
		qr, quota := g.(QuotaReporter)
		runner, _ := g.(Runner)
		p.stages[i] = stage{gate: g, shadow: shadow[st], quota: quota, qr: qr, runner: runner}
		p.n++
	}
	for i := range p.stages[:p.n] {
		if m, ok := p.stages[i].gate.(InjectionMarker); ok {
			p.stages[i].marks, p.marker = true, m
			break
		}
	}
	return p, nil
}

// Name returns the policy's name.
func (p *Policy) Name() string {
	if p == nil {
		return ""
	}
	return p.name
}

// Clock returns the clock the policy reads when Call.Now is zero.
func (p *Policy) Clock() Clock {
	if p == nil {
		return SystemClock()
	}
	return p.clock
}

// Gates returns the policy's gates in evaluation order.
func (p *Policy) Gates() []Gate {
	if p == nil {
		return nil
	}
	out := make([]Gate, p.n)
	for i := range out {
		out[i] = p.stages[i].gate
	}
	return out
}

// Admit runs c through the gates in order. On success it returns a Ticket
// that must be released once the call is done. On rejection it returns a
// *Rejection (or ctx.Err(), unwrapped, when a waiting gate saw ctx end) after
// releasing, in reverse order, the permits already taken.
func (p *Policy) Admit(ctx context.Context, c Call) (Ticket, error) {
	var t Ticket
	err := p.AdmitInto(ctx, &c, &t)
	return t, err
}

// AdmitInto is Admit for adapters on a hot path: it reads the call through
// c and fills the ticket in place, so that neither value is copied on the
// way in or out. It may fill c's empty Now, Service and Region as Admit
// would; t must be empty (a zero Ticket or one released), and is left
// empty on error.
func (p *Policy) AdmitInto(ctx context.Context, c *Call, t *Ticket) error {
	if p == nil || p.n == 0 {
		return nil
	}
	if c.Now.IsZero() {
		c.Now = p.clock.Now()
	}
	if c.Service == "" {
		c.Service = p.service
	}
	if c.Region == "" {
		c.Region = p.region
	}
	if p.minTimeLeft > 0 && !c.Deadline.IsZero() && c.Deadline.Sub(c.Now) < p.minTimeLeft {
		p.rejected[ReasonDeadline].add()
		return Reject(ReasonDeadline, 0)
	}
	// One copy of the call on this frame, passed to every gate from there:
	// passing *c made the compiler copy it twice per gate, through a
	// temporary whose overlapping 16-byte moves stall store forwarding.
	call := *c
	for i := 0; i < p.n; i++ {
		s := &p.stages[i]
		permit, err := s.gate.Admit(ctx, call)
		if err != nil {
			rej, isRej := err.(*Rejection)
			if isRej && s.shadow {
				p.shadowed[rej.reason].add()
				continue
			}
			if isRej {
				p.rejected[rej.reason].add()
			}
			t.Release(rej.releaseOutcome())
			*t = Ticket{}
			return err
		}
		if permit.r != nil {
			t.permits[t.n] = permit
			t.n++
			if s.quota && t.quota == 0 {
				t.quota, t.qr = t.n, s.qr
			}
			if s.runner != nil && t.run == 0 {
				t.run, t.runner = t.n, s.runner
			}
			if s.marks && p.marker.Injected(permit.token) {
				t.injected = true
			}
		}
	}
	return nil
}

// Rejected returns how many calls the policy rejected for reason.
func (p *Policy) Rejected(reason Reason) uint64 {
	if p == nil || reason >= numReasons {
		return 0
	}
	return p.rejected[reason].load()
}

// Shadowed returns how many calls a shadow gate would have rejected for
// reason but let through.
func (p *Policy) Shadowed(reason Reason) uint64 {
	if p == nil || reason >= numReasons {
		return 0
	}
	return p.shadowed[reason].load()
}

// Ticket holds the permits of one admitted call. Release it exactly when the
// call is done, also on panic (defer it). Release is idempotent through the
// same variable; do not copy a Ticket and release both copies.
//
// A Ticket is not safe for concurrent use.
type Ticket struct {
	permits [MaxGates]Permit
	n       uint8
	quota   uint8 // 1 + index of the first permit of a quota-reporting gate; 0: none
	run     uint8 // 1 + index of the permit of the Runner that runs the work; 0: none
	// injected: a gate marked its permit as an injected fault
	// (InjectionMarker); Release marks the outcome Injected.
	injected bool
	runner   Runner
	qr       QuotaReporter // the gate of permit quota-1, asserted once by NewPolicy
}

// Release hands every permit back in reverse order with the call's outcome,
// marked Injected when a gate injected a fault into the call (see
// InjectionMarker). It leaves t as empty as the zero Ticket, holding no
// reference, so a pooled ticket needs no clearing; a second Release is a
// no-op.
func (t *Ticket) Release(o Outcome) {
	if t.injected {
		o.Injected, t.injected = true, false
	}
	for t.n > 0 {
		t.n--
		t.permits[t.n].Release(o)
	}
	if t.runner != nil || t.quota != 0 || t.run != 0 {
		t.runner, t.quota, t.run, t.qr = nil, 0, 0, nil
	}
}

// Held reports whether the ticket still holds permits.
func (t *Ticket) Held() bool { return t.n > 0 }

// Resolver finds the Policy of an operation. The registry implements it;
// adapters depend only on this interface. A nil result admits every call.
type Resolver interface {
	Policy(operation string) *Policy
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc func(operation string) *Policy

// Policy calls f(operation).
func (f ResolverFunc) Policy(operation string) *Policy { return f(operation) }

// Static returns a Resolver that answers p for every operation.
func Static(p *Policy) Resolver { return ResolverFunc(func(string) *Policy { return p }) }
