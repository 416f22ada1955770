package notify

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/governance"
)

// The producers of notifications that already exist are wired with small
// adapters here, so that the packages raising them need not know notify.

// GovernanceAlerts is a governance.AlertSink (Config.Alerts) that notifies
// each fail-open alert: HIGH, CRITICAL for a store reset and for a last
// good state dropped (stale_expired), keyed by kind so that alerts of two
// kinds never mute each other. Next, when set, also receives every alert
// (governance.SlogSink keeps the log line). The sink must not block, and a
// notification may cost a Redis round trip (fleet claims), so it is sent
// from its own goroutine; governance raises at most one alert per kind per
// cooldown, which bounds them. Safe for concurrent use.
type GovernanceAlerts struct {
	Manager Manager
	Next    governance.AlertSink
}

var _ governance.AlertSink = GovernanceAlerts{}

// Alert implements governance.AlertSink.
func (g GovernanceAlerts) Alert(ctx context.Context, a governance.Alert) {
	if g.Next != nil {
		g.Next.Alert(ctx, a)
	}
	p := PriorityHigh
	if a.Kind == governance.AlertStoreReset || a.Kind == governance.AlertStaleExpired {
		p = PriorityCritical
	}
	body := "the check failed open"
	if !a.StaleSince.IsZero() {
		body = "holding the last good state read at " + a.StaleSince.UTC().Format(time.RFC3339)
	}
	if a.Err != nil {
		body += ": " + a.Err.Error()
	}
	if a.Suppressed > 0 {
		body += " (" + strconv.FormatUint(a.Suppressed, 10) + " more since the last alert)"
	}
	n := Notification{Priority: p, Source: "governance", Key: "governance:" + string(a.Kind),
		Title: "governance: " + string(a.Kind), Body: body}
	go func() { _, _ = g.Manager.Notify(context.WithoutCancel(ctx), n) }()
}

// KillSwitchOn is the "kill_switch" condition of inhibition rules: true
// while a global kill switch is active. The checker's answer is cached, so
// the condition is cheap.
func KillSwitchOn(g baldur.GovernanceChecker) func() bool {
	return func() bool { return !g.SystemEnabled(context.Background()) }
}

// BurnAlerts notifies the error budget's multi-window burn-rate alerts:
// each Check evaluates them and notifies an alert that starts firing
// (CRITICAL for a factor of at least 14.4, HIGH from 6, WARNING below),
// and resolves it when it stops. Run checks every interval. Safe for
// concurrent use.
type BurnAlerts struct {
	Budget interface {
		BurnAlerts(now time.Time) []governance.BurnAlert
	}
	Manager Manager
	// Clock dates the evaluation and times Run. Nil: the system clock.
	Clock baldur.Clock

	mu     sync.Mutex
	firing map[string]bool
}

// Check evaluates the burn alerts once and notifies their changes.
func (b *BurnAlerts) Check(ctx context.Context) {
	clk := b.Clock
	if clk == nil {
		clk = baldur.SystemClock()
	}
	alerts := b.Budget.BurnAlerts(clk.Now())
	type change struct {
		n      Notification
		firing bool
	}
	var changes []change
	b.mu.Lock()
	if b.firing == nil {
		b.firing = map[string]bool{}
	}
	for _, a := range alerts {
		key := "error_budget:burn:" + a.Long.String() + "/" + a.Short.String()
		if a.Firing == b.firing[key] {
			continue
		}
		b.firing[key] = a.Firing
		p := PriorityWarning
		switch {
		case a.Factor >= 14.4:
			p = PriorityCritical
		case a.Factor >= 6:
			p = PriorityHigh
		}
		changes = append(changes, change{firing: a.Firing, n: Notification{Priority: p, Source: "error_budget", Key: key,
			Title: fmt.Sprintf("error budget burning %.1fx over %v and %v", a.Factor, a.Long, a.Short),
			Body:  fmt.Sprintf("burn rate %.2f over %v, %.2f over %v", a.LongRate, a.Long, a.ShortRate, a.Short)}})
	}
	b.mu.Unlock()
	for _, c := range changes { // never a user callback under the lock
		if c.firing {
			_, _ = b.Manager.Notify(ctx, c.n)
		} else if r, ok := b.Manager.(Resolver); ok {
			_, _ = r.Resolve(ctx, c.n)
		}
	}
}

// Run checks every interval until ctx is done.
func (b *BurnAlerts) Run(ctx context.Context, interval time.Duration) {
	runEvery(ctx, b.Clock, interval, b.Check)
}

// EmergencyLevels notifies changes of the emergency level: LEVEL_1
// WARNING, LEVEL_2 HIGH, LEVEL_3 CRITICAL, each a new notification of the
// key "governance:emergency_level" (a higher level breaks the cooldown of a
// lower one), and a resolve on the way back to NORMAL. Check compares the
// level with the last one seen (one atomic load when unchanged); Run
// checks every interval. Safe for concurrent use.
type EmergencyLevels struct {
	Level   interface{ Level() baldur.EmergencyLevel }
	Manager Manager
	Clock   baldur.Clock

	last atomic.Int32
}

// EmergencyKey is the key of the emergency level's notifications.
const EmergencyKey = "governance:emergency_level"

// Check notifies the level if it changed since the last Check.
func (e *EmergencyLevels) Check(ctx context.Context) {
	l := e.Level.Level()
	prev := baldur.EmergencyLevel(e.last.Swap(int32(l)))
	if l == prev {
		return
	}
	n := Notification{Source: "governance", Key: EmergencyKey, Title: "emergency level " + l.String(),
		Body: "was " + prev.String()}
	if l == baldur.LevelNormal {
		n.Title, n.Priority = "emergency level "+prev.String(), emergencyPriority(prev)
		if r, ok := e.Manager.(Resolver); ok {
			_, _ = r.Resolve(ctx, n)
		}
		return
	}
	n.Priority = emergencyPriority(l)
	_, _ = e.Manager.Notify(ctx, n)
}

func emergencyPriority(l baldur.EmergencyLevel) Priority {
	switch l {
	case baldur.Level3:
		return PriorityCritical
	case baldur.Level2:
		return PriorityHigh
	}
	return PriorityWarning
}

// Run checks every interval until ctx is done.
func (e *EmergencyLevels) Run(ctx context.Context, interval time.Duration) {
	runEvery(ctx, e.Clock, interval, e.Check)
}

func runEvery(ctx context.Context, clk baldur.Clock, interval time.Duration, f func(context.Context)) {
	if clk == nil {
		clk = baldur.SystemClock()
	}
	if interval <= 0 {
		interval = 10 * time.Second
	}
	tick := make(chan struct{}, 1)
	for {
		f(ctx)
		t := clk.AfterFunc(interval, func() { tick <- struct{}{} })
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-tick:
		}
	}
}

// BreakerChanges turns breaker state changes into notifications: a
// partition that opens is notified at Priority (the zero value is
// PriorityInfo; set PriorityWarning to reach chat; forced opens are an operator's act and are not notified unless Forced), and
// resolved when it closes. Hook is the function for
// blast.BreakerConfig.OnStateChange: it runs on the goroutine that changed
// the state (a call's), so it only hands the change to a bounded buffer
// (Buffer, default 64; changes beyond are dropped and counted) drained by
// the goroutine Start runs. Safe for concurrent use.
type BreakerChanges struct {
	Manager Manager
	// Name names the breakers in titles and keys ("payments").
	Name     string
	Priority Priority
	// Forced also notifies forced opens.
	Forced bool
	Buffer int

	once    sync.Once
	ch      chan breakerChange
	dropped atomic.Uint64
}

type breakerChange struct {
	p        blast.Partition
	from, to blast.State
}

func (b *BreakerChanges) init() {
	b.once.Do(func() { b.ch = make(chan breakerChange, max(b.Buffer, 64)) })
}

// Hook is the OnStateChange function; it never blocks.
func (b *BreakerChanges) Hook(p blast.Partition, from, to blast.State) {
	b.init()
	if to.Forced() && !b.Forced {
		return
	}
	select {
	case b.ch <- breakerChange{p, from, to}:
	default:
		b.dropped.Add(1)
	}
}

// Dropped counts changes dropped because the buffer was full.
func (b *BreakerChanges) Dropped() uint64 { return b.dropped.Load() }

// Start drains the buffer until ctx is done.
func (b *BreakerChanges) Start(ctx context.Context) {
	b.init()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case c := <-b.ch:
				b.notify(ctx, c)
			}
		}
	}()
}

func (b *BreakerChanges) notify(ctx context.Context, c breakerChange) {
	part := c.p.Key
	if c.p.Operation != "" {
		part = strings.TrimSpace(part + " " + c.p.Operation)
	}
	n := Notification{Priority: b.Priority, Source: "breaker", Key: "breaker:" + b.Name + ":" + part,
		Title: "breaker " + b.Name + " " + part + " " + c.to.String(), Body: "was " + c.from.String()}
	switch c.to {
	case blast.StateOpen, blast.StateForcedOpen:
		_, _ = b.Manager.Notify(ctx, n)
	case blast.StateClosed:
		if c.from == blast.StateHalfOpen || c.from.Forced() {
			if r, ok := b.Manager.(Resolver); ok {
				_, _ = r.Resolve(ctx, n)
			}
		}
	}
}
