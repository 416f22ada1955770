package notify

import (
	"context"
	"slices"
	"time"
)

// group is an open window of one source (or of the coalesced CRITICAL
// notifications): its first notification was sent, the others wait for
// the summary at the window's end.
type group struct {
	source string
	count  int
	titles []string
	prio   Priority
	first  Notification
}

func (g *group) add(n *Notification, prio Priority) {
	if g.count == 0 {
		g.first = *n
	}
	g.count++
	g.prio = max(g.prio, prio)
	if len(g.titles) < maxTitles && !slices.Contains(g.titles, n.Title) {
		g.titles = append(g.titles, n.Title)
	}
}

// join adds n to the open group of its source and reports true, or opens
// the source's window and reports false (n is sent now).
func (p *Pipeline) join(n *Notification, prio Priority, _ int64) bool {
	p.gmu.Lock()
	defer p.gmu.Unlock()
	if g := p.groups[n.Source]; g != nil {
		g.add(n, prio)
		return true
	}
	g := &group{source: n.Source}
	p.groups[n.Source] = g
	p.clock.AfterFunc(time.Duration(p.groupWait), func() { p.flush(g, false) })
	return false
}

// coalesce is join for CRITICAL notifications over the rate limit: one
// window for all of them, whose summary is sent whatever the limit says.
func (p *Pipeline) coalesce(n *Notification, _ int64) bool {
	p.gmu.Lock()
	defer p.gmu.Unlock()
	if p.crit != nil {
		p.crit.add(n, PriorityCritical)
		return true
	}
	g := &group{source: n.Source, prio: PriorityCritical}
	p.crit = g
	p.clock.AfterFunc(time.Duration(p.groupWait), func() { p.flush(g, true) })
	return false
}

// flush sends g's summary when it has members and keeps the window open
// for another period; an empty window closes.
func (p *Pipeline) flush(g *group, critical bool) {
	p.gmu.Lock()
	if g.count == 0 || p.closed.Load() {
		if critical {
			p.crit = nil
		} else {
			delete(p.groups, g.source)
		}
		p.gmu.Unlock()
		return
	}
	now := p.clock.Now()
	first, count, titles, prio := g.first, g.count, g.titles, g.prio
	g.count, g.titles, g.prio = 0, nil, 0
	if critical {
		g.prio = PriorityCritical
	}
	p.clock.AfterFunc(time.Duration(p.groupWait), func() { p.flush(g, critical) })
	p.gmu.Unlock()
	if p.closed.Load() {
		return
	}
	n := first
	n.Priority = prio
	m := &Message{Priority: prio, Source: first.Source, Title: first.Title, Body: first.Body, Key: first.Key,
		DedupKey: dedupKey(p.cfg.Service, effectiveKey(&first)), Count: count, Titles: titles, At: now}
	var r Result
	var err error
	if !critical && !p.rate.take(now.UnixNano()) {
		r = Result{Suppressed: SuppressRateLimited, Priority: prio}
	} else {
		r, err = p.dispatch(context.Background(), &n, m, claim{})
	}
	_ = err // recorded in r
	summary := Notification{Priority: prio, Source: first.Source, Title: m.text(), Key: first.Key}
	p.record(&summary, &r, now, false)
}
