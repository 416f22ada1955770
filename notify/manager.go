package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
)

// ErrRefused is returned by Notify when every channel chosen for a
// notification refused it (its queue full of CRITICAL messages).
var ErrRefused = errors.New("notify: every chosen channel refused the notification")

// Pipeline is the manager that sends: validate → disabled → silences →
// inhibition → escalation → cooldown by key (claimed fleet-wide with
// Claims) → grouping → rate limits → routing → bounded per-channel queues →
// audit. See the package documentation. Safe for concurrent use.
type Pipeline struct {
	cfg      Config
	clock    baldur.Clock
	log      *slog.Logger
	claims   Claims
	keys     *keyTable
	silences silences
	inhibit  []*inhibitRule
	routes   []route
	channels []*channel
	byName   map[string]*channel
	floor    map[string]bool
	rate     *rate
	metrics  metrics
	ring     ring

	cooldown, lease, groupWait, window int64
	steps                              []int

	gmu    sync.Mutex
	groups map[string]*group
	crit   *group

	ctx      context.Context
	cancel   context.CancelFunc
	stop     chan struct{}
	wg       sync.WaitGroup
	closed   atomic.Bool
	disabled atomic.Bool
}

// SetDisabled turns the whole pipeline off (every notification is
// suppressed as disabled) or back on; Config.Disabled is its start value.
func (p *Pipeline) SetDisabled(off bool) { p.disabled.Store(off) }

var (
	_ Manager  = (*Pipeline)(nil)
	_ Resolver = (*Pipeline)(nil)
)

// New validates cfg, reads the channels' secrets from the environment and
// starts one worker per channel. Close stops them.
func New(cfg Config) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := cfg.withDefaults()
	p := &Pipeline{cfg: d, clock: d.Clock, log: d.Logger, claims: d.Claims, keys: newKeyTable(d.MaxKeys),
		byName: map[string]*channel{}, floor: map[string]bool{}, groups: map[string]*group{}, stop: make(chan struct{}),
		cooldown: int64(d.Cooldown), lease: int64(d.SendingLease), groupWait: int64(d.GroupWait),
		window: int64(d.Escalation.Window), steps: d.Escalation.Steps}
	if d.Escalation.Off {
		p.steps = nil
	}
	if !d.Rate.Unlimited {
		p.rate = &rate{minute: newBucket(d.Rate.PerMinute, time.Minute), hour: newBucket(d.Rate.PerHour, time.Hour)}
	}
	for _, s := range d.EmergencyFloor.Sources {
		p.floor[s] = true
	}
	for i, ch := range d.Channels {
		c, err := p.newChannel(i, ch)
		if err != nil {
			return nil, err
		}
		p.channels = append(p.channels, c)
		p.byName[ch.Name] = c
	}
	p.routes = compileRoutes(d.Routes, p.channels)
	for i, r := range d.Inhibit {
		if r.When != "" && d.Conditions[r.When] == nil {
			return nil, &baldur.ConfigError{Field: "inhibit[" + strconv.Itoa(i) + "].when", Value: r.When, Reason: "names no condition set in Config.Conditions"}
		}
		p.inhibit = append(p.inhibit, newInhibitRule(r, d.Conditions))
	}
	now := p.clock.Now()
	for i, s := range d.Silences {
		if _, err := p.silences.add(s, now); err != nil {
			var ce *baldur.ConfigError
			if errors.As(err, &ce) {
				ce.Field = "silences[" + strconv.Itoa(i) + "]" + ce.Field[len("silence"):]
			}
			return nil, err
		}
	}
	p.disabled.Store(d.Disabled)
	p.metrics.init(p.channels)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	for _, c := range p.channels {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			c.run(p.ctx, p.stop)
		}()
	}
	return p, nil
}

func (p *Pipeline) newChannel(i int, ch ChannelConfig) (*channel, error) {
	c := &channel{name: ch.Name, kind: ch.Type, cfg: ch, m: p, buf: make([]*job, ch.QueueSize), wake: make(chan struct{}, 1)}
	if ch.PerMinute > 0 {
		c.rate = newBucket(ch.PerMinute, time.Minute)
	}
	at := "channels[" + strconv.Itoa(i) + "]"
	env := func(field, name string) (string, error) {
		v, ok := p.cfg.LookupEnv(name)
		if !ok || v == "" {
			// The variable's name is configuration; its value never appears.
			return "", &baldur.ConfigError{Field: at + "." + field, Value: name, Reason: "names an unset environment variable"}
		}
		return v, nil
	}
	switch ch.Type {
	case TypeLog:
		c.s = logSender{log: p.log}
		return c, nil
	case TypePagerDuty:
		key, err := env("routing_key_env", ch.RoutingKeyEnv)
		if err != nil {
			return nil, err
		}
		u := DefaultPagerDutyURL
		if ch.URLEnv != "" {
			if u, err = env("url_env", ch.URLEnv); err != nil {
				return nil, err
			}
		}
		c.hs, err = newHTTPSender(ch, p.cfg.Service, u, key, p.clock, p.cfg.Next)
		if err != nil {
			return nil, err
		}
	default:
		u, err := env("url_env", ch.URLEnv)
		if err != nil {
			return nil, err
		}
		if c.hs, err = newHTTPSender(ch, p.cfg.Service, u, "", p.clock, p.cfg.Next); err != nil {
			return nil, err
		}
	}
	c.s = c.hs
	return c, nil
}

// Close stops the workers (messages still queued are not sent) and waits
// for the sends in progress, or for ctx. Closing twice is a no-op.
func (p *Pipeline) Close(ctx context.Context) error {
	if p.closed.Swap(true) {
		return nil
	}
	close(p.stop)
	p.cancel()
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Notify runs n through the pipeline. It returns once n is queued on its
// channels (or suppressed): sending happens on the channels' workers, so a
// dead endpoint never holds the caller. With Claims, the first
// notification of a key in a cooldown makes one round trip to claim it;
// the others are answered locally.
func (p *Pipeline) Notify(ctx context.Context, n Notification) (Result, error) {
	now := p.clock.Now()
	var quiet bool
	r, err := p.notify(ctx, &n, now, &quiet)
	if quiet {
		// A repeat within the cooldown is counted, not kept: the ring holds
		// the first suppression of each cooldown, so a storm of one key
		// neither costs a lock nor flushes the last results away.
		p.metrics.result(&r)
		return r, err
	}
	p.record(&n, &r, now, false)
	return r, err
}

func (p *Pipeline) notify(ctx context.Context, n *Notification, now time.Time, quiet *bool) (Result, error) {
	ns := now.UnixNano()
	// 1. validate
	if !n.Priority.Valid() || n.Title == "" || len(n.Title) > MaxTitle || len(n.Source) > MaxSource || len(n.Key) > MaxKey {
		return Result{Suppressed: SuppressInvalid, Priority: n.Priority}, nil
	}
	n.Body = truncate(n.Body, MaxBody)
	// 2. disabled
	if p.disabled.Load() || p.closed.Load() {
		return Result{Suppressed: SuppressDisabled, Priority: n.Priority}, nil
	}
	// 3. silences
	if p.silences.match(n, n.Priority, ns) != nil {
		return Result{Suppressed: SuppressSilenced, Priority: n.Priority}, nil
	}
	// 4. inhibition
	for _, r := range p.inhibit {
		if r.inhibits(n, ns) {
			return Result{Suppressed: SuppressInhibited, Priority: n.Priority}, nil
		}
	}
	// 5. escalation (emergency floor here, repeats under the key's lock)
	prio := p.floorOf(n)
	// 6. cooldown by key
	h := p.keys.hash(n)
	s, e := p.keys.lock(h, n)
	if e == nil {
		e = p.keys.create(s, h, n, ns, p.window)
	}
	if e == nil {
		p.metrics.keyOverflow.Add(1)
		prio = min(prio, PriorityCritical)
		s.mu.Unlock()
		return p.afterCooldown(ctx, n, prio, now, claim{})
	}
	if ns-e.start > p.window {
		e.start, e.count = ns, 0
	}
	e.count++
	for _, st := range p.steps {
		if e.count >= st && prio < PriorityCritical {
			prio++
		}
	}
	if prio > n.Priority {
		p.metrics.escalations.Add(1)
	}
	if e.until > ns && prio <= e.sentPrio {
		e.quiet++
		*quiet = e.quiet > 1
		s.mu.Unlock()
		return Result{Suppressed: SuppressCooldown, Priority: prio}, nil
	}
	e.gen++
	gen := e.gen
	e.sentPrio, e.resolvedUntil, e.quiet = prio, 0, 0
	if p.claims != nil {
		e.until = ns + p.lease
	} else {
		e.until = ns + p.cooldown
	}
	s.mu.Unlock()
	if p.claims == nil {
		p.metrics.localCooldowns.Add(1)
		return p.afterCooldown(ctx, n, prio, now, claim{e: e, gen: gen})
	}
	// One claim per key and priority: an escalated repeat may be sent once
	// per cooldown over a lower one, fleet-wide as locally.
	key := claimKey(dedupKey(p.cfg.Service, effectiveKey(n)), prio)
	c, err := p.claims.Claim(ctx, key, time.Duration(p.lease))
	if err != nil {
		// Fleet claims unavailable: fall back to this replica's cooldown.
		p.metrics.claimErrors.Add(1)
		p.setUntil(e, gen, ns+p.cooldown)
		return p.afterCooldown(ctx, n, prio, now, claim{e: e, gen: gen})
	}
	if !c.Granted {
		p.metrics.fleetCooldowns.Add(1)
		p.setUntil(e, gen, ns+min(max(int64(c.Remaining), 0), p.cooldown))
		return Result{Suppressed: SuppressCooldown, Priority: prio}, nil
	}
	p.setUntil(e, gen, ns+p.cooldown)
	return p.afterCooldown(ctx, n, prio, now, claim{e: e, gen: gen, key: key, token: c.Token})
}

// claimKey names the fleet claim of a dedup key at a priority.
func claimKey(dedup string, p Priority) string { return dedup + "." + strconv.Itoa(int(p)) }

func (p *Pipeline) setUntil(e *entry, gen uint64, until int64) {
	if e == nil {
		return
	}
	s := &p.keys.shards[p.keys.hashOf(e)%numShards]
	s.mu.Lock()
	if e.gen == gen {
		e.until = until
	}
	s.mu.Unlock()
}

func (p *Pipeline) reopenResolve(e *entry, gen uint64) {
	if e == nil {
		return
	}
	s := &p.keys.shards[p.keys.hashOf(e)%numShards]
	s.mu.Lock()
	if e.gen == gen {
		e.resolvedUntil = 0
	}
	s.mu.Unlock()
}

func (p *Pipeline) floorOf(n *Notification) Priority {
	prio := n.Priority
	if p.cfg.Emergency == nil || !p.floor[n.Source] {
		return prio
	}
	var f Priority
	switch p.cfg.Emergency.Level() {
	case baldur.Level2:
		f = *p.cfg.EmergencyFloor.Level2
	case baldur.Level3:
		f = *p.cfg.EmergencyFloor.Level3
	default:
		return prio
	}
	return max(prio, f)
}

// claim is a granted cooldown of one send: the key's local entry and its
// fleet claim, settled when the message's channels are done.
type claim struct {
	e       *entry
	gen     uint64
	key     string
	token   string
	resolve bool // a resolve's claim: a failure reopens the resolve, not the cooldown
}

// settle extends the fleet claim to the cooldown after a send that a
// channel took, or frees the key (here and in the fleet) after a send that
// every channel failed, so that a retry or another replica may send.
func (p *Pipeline) settle(c claim, ok bool) {
	if ok {
		if c.token != "" {
			if _, err := p.claims.Confirm(p.ctx, c.key, c.token, time.Duration(p.cooldown)); err != nil {
				p.metrics.claimErrors.Add(1)
			}
		}
		return
	}
	if c.resolve {
		p.reopenResolve(c.e, c.gen)
	} else if c.e != nil {
		p.setUntil(c.e, c.gen, 0)
	}
	if c.token != "" {
		if err := p.claims.Release(p.ctx, c.key, c.token); err != nil {
			p.metrics.claimErrors.Add(1)
		}
	}
}

// afterCooldown runs grouping, rate limits, routing and enqueue.
func (p *Pipeline) afterCooldown(ctx context.Context, n *Notification, prio Priority, now time.Time, c claim) (Result, error) {
	e, gen := c.e, c.gen
	ns := now.UnixNano()
	// 7. grouping
	if prio < PriorityCritical && !p.cfg.NoGrouping {
		if p.join(n, prio, ns) {
			p.settle(c, true) // the group's summary carries it
			return Result{Suppressed: SuppressGrouped, Priority: prio}, nil
		}
	}
	// 8. rate limits
	if !p.rate.take(ns) {
		if prio < PriorityCritical {
			p.settle(c, false)
			p.setUntil(e, gen, ns+p.lease) // not sent: retry after the lease, not a whole cooldown
			return Result{Suppressed: SuppressRateLimited, Priority: prio}, nil
		}
		if p.coalesce(n, ns) {
			p.settle(c, true)
			return Result{Suppressed: SuppressCoalesced, Priority: prio}, nil
		}
		p.metrics.overLimit.Add(1) // the first CRITICAL of a window goes now
	}
	m := &Message{Priority: prio, Source: n.Source, Title: n.Title, Body: n.Body, Key: n.Key,
		DedupKey: dedupKey(p.cfg.Service, effectiveKey(n)), Count: 1, At: now}
	r, err := p.dispatch(ctx, n, m, c)
	if r.Delivered {
		for _, ir := range p.inhibit {
			ir.fired(n, prio, ns)
		}
	}
	return r, err
}

// dispatch routes m and queues it on its channels (steps 9 and 10).
func (p *Pipeline) dispatch(_ context.Context, n *Notification, m *Message, c claim) (Result, error) {
	mask := p.route(n, m.Priority, m.Resolved)
	if mask == 0 {
		p.log.LogAttrs(context.Background(), slog.LevelInfo, "notification (no channel)", slog.String("priority", m.Priority.String()),
			slog.String("source", m.Source), slog.String("title", m.Title))
		p.settle(c, true)
		return Result{Suppressed: SuppressLogOnly, Priority: m.Priority}, nil
	}
	d := &delivery{}
	d.settle = func(ok bool) { p.settle(c, ok) }
	var names []string
	chosen := 0
	now := m.At.UnixNano()
	d.pending.Store(1) // held until every push is done
	for i, ch := range p.channels {
		if mask&(1<<i) == 0 {
			continue
		}
		if m.Priority < PriorityCritical && !m.Resolved && !m.Test && !ch.allow(now) {
			p.metrics.channelLimited.Add(1)
			continue
		}
		chosen++
		d.pending.Add(1)
		ok, dropped := ch.push(&job{msg: m, d: d}, false)
		if dropped != nil {
			dropped.d.done(false)
		}
		if !ok {
			d.pending.Add(-1)
			continue
		}
		names = append(names, ch.name)
	}
	if chosen > 0 && len(names) == 0 {
		d.done(false)
		return Result{Suppressed: SuppressRefused, Priority: m.Priority}, ErrRefused
	}
	if chosen == 0 { // every chosen channel was over its own limit
		d.done(false)
		return Result{Suppressed: SuppressRateLimited, Priority: m.Priority}, nil
	}
	d.done(false) // the hold; the channels' outcomes decide
	return Result{Delivered: true, Priority: m.Priority, Channels: names}, nil
}

// Resolve resolves what the notifications of n's key opened: PagerDuty
// gets a resolve event with the trigger's dedup key, chat and log one
// "resolved" line. A second resolve of the key within the cooldown is
// suppressed (not_open), across the fleet with Claims. A resolve also ends
// the key's cooldown and the inhibitions it caused, so that the next
// trigger pages again.
func (p *Pipeline) Resolve(ctx context.Context, n Notification) (Result, error) {
	now := p.clock.Now()
	r, err := p.resolve(ctx, &n, now)
	p.record(&n, &r, now, true)
	return r, err
}

func (p *Pipeline) resolve(ctx context.Context, n *Notification, now time.Time) (Result, error) {
	ns := now.UnixNano()
	if !n.Priority.Valid() || n.Title == "" || len(n.Title) > MaxTitle || len(n.Source) > MaxSource || len(n.Key) > MaxKey {
		return Result{Suppressed: SuppressInvalid, Priority: n.Priority}, nil
	}
	if p.disabled.Load() || p.closed.Load() {
		return Result{Suppressed: SuppressDisabled, Priority: n.Priority}, nil
	}
	prio := n.Priority
	h := p.keys.hash(n)
	s, e := p.keys.lock(h, n)
	if e == nil {
		e = p.keys.create(s, h, n, ns, p.window)
	}
	if e != nil {
		if e.resolvedUntil > ns {
			s.mu.Unlock()
			return Result{Suppressed: SuppressNotOpen, Priority: prio}, nil
		}
		prio = max(prio, e.sentPrio)
		e.resolvedUntil, e.until, e.count = ns+p.cooldown, 0, 0
		e.gen++
	}
	c := claim{e: e, resolve: true}
	if e != nil {
		c.gen = e.gen
	}
	s.mu.Unlock()
	key := dedupKey(p.cfg.Service, effectiveKey(n))
	if p.claims != nil {
		cl, err := p.claims.Claim(ctx, "resolved:"+key, time.Duration(p.lease))
		switch {
		case err != nil:
			p.metrics.claimErrors.Add(1)
		case !cl.Granted:
			return Result{Suppressed: SuppressNotOpen, Priority: prio}, nil
		default:
			c.key, c.token = "resolved:"+key, cl.Token
			for pr := range Priority(NumPriorities) {
				if err := p.claims.Clear(ctx, claimKey(key, pr)); err != nil {
					p.metrics.claimErrors.Add(1)
				}
			}
		}
	}
	for _, ir := range p.inhibit {
		ir.resolved(n)
	}
	m := &Message{Priority: prio, Source: n.Source, Title: n.Title, Key: n.Key, DedupKey: key, Count: 1, Resolved: true, At: now}
	return p.dispatch(ctx, n, m, c)
}

// TestSend queues a test message on the channel named name, bypassing the
// pipeline (it is an operator checking the wiring).
func (p *Pipeline) TestSend(ctx context.Context, name, actor, reason string) (Result, error) {
	ch := p.byName[name]
	if ch == nil {
		return Result{}, fmt.Errorf("notify: no channel %q", name)
	}
	now := p.clock.Now()
	n := Notification{Priority: PriorityInfo, Source: "notify", Title: "test notification from " + actor, Body: reason, Key: "notify.test." + name}
	m := &Message{Priority: PriorityInfo, Source: n.Source, Title: n.Title, Body: reason, Key: n.Key, DedupKey: dedupKey(p.cfg.Service, n.Key), Count: 1, Test: true, At: now}
	ok, dropped := ch.push(&job{msg: m}, false)
	if dropped != nil {
		dropped.d.done(false)
	}
	r := Result{Priority: PriorityInfo}
	var err error
	if ok {
		r.Delivered, r.Channels = true, []string{name}
	} else {
		r.Suppressed, err = SuppressRefused, ErrRefused
	}
	p.record(&n, &r, now, false)
	return r, err
}
