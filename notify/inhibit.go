package notify

import (
	"sync"
	"time"
)

type inhibitRule struct {
	when        func() bool
	source      *Matcher
	target      Matcher
	equalSource bool
	dur         int64

	mu     sync.Mutex
	active map[string]int64 // source ("" without EqualSource) → end
}

func newInhibitRule(r InhibitRule, conds map[string]func() bool) *inhibitRule {
	ir := &inhibitRule{source: r.Source, target: r.Target, equalSource: r.EqualSource, dur: int64(r.For), active: map[string]int64{}}
	if ir.dur == 0 {
		ir.dur = int64(time.Hour)
	}
	if r.When != "" {
		ir.when = conds[r.When]
		if ir.when == nil {
			ir.when = func() bool { return false }
		}
	}
	return ir
}

func (r *inhibitRule) inhibits(n *Notification, now int64) bool {
	if !r.target.Matches(n, n.Priority) {
		return false
	}
	if r.when != nil {
		return r.when()
	}
	if r.source.Matches(n, n.Priority) {
		return false // an inhibiting notification never inhibits itself
	}
	k := ""
	if r.equalSource {
		k = n.Source
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active[k] > now
}

// fired records a sent notification that inhibits others.
func (r *inhibitRule) fired(n *Notification, prio Priority, now int64) {
	if r.source == nil || !r.source.Matches(n, prio) {
		return
	}
	k := ""
	if r.equalSource {
		k = n.Source
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for s, until := range r.active {
		if until <= now {
			delete(r.active, s)
		}
	}
	r.active[k] = now + r.dur
}

// resolved ends the inhibition a resolved notification caused.
func (r *inhibitRule) resolved(n *Notification) {
	if r.source == nil {
		return
	}
	m := *r.source // a resolve may carry another priority than its trigger
	m.MinPriority, m.MaxPriority = nil, nil
	if !m.Matches(n, n.Priority) {
		return
	}
	k := ""
	if r.equalSource {
		k = n.Source
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.active, k)
}
