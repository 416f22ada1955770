package watchdog_test

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/watchdog"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// world is a resource a test check watches: subjects in trouble, and what
// the check's actions did to them.
type world struct {
	mu      sync.Mutex
	stuck   map[string]bool // subject -> in trouble
	fixes   bool            // an action clears its subject
	fail    error           // every action returns it
	held    map[string]bool
	page    bool
	report  bool     // findings only: no action
	applied []string // subject@token of every applied action
}

func newWorld(subjects ...string) *world {
	w := &world{stuck: map[string]bool{}, held: map[string]bool{}, fixes: true}
	for _, s := range subjects {
		w.stuck[s] = true
	}
	return w
}

func (w *world) set(subject string, stuck bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if stuck {
		w.stuck[subject] = true
	} else {
		delete(w.stuck, subject)
	}
}

func (w *world) actions() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.applied...)
}

// check is a watchdog.Check over a world.
type check struct {
	name string
	w    *world
	// observe, when set, runs at the start of Observe (a hook: block, or
	// change the world mid-pass).
	observe func(ctx context.Context) error
}

func (c *check) Name() string { return c.name }

func (c *check) Observe(ctx context.Context, _ time.Time) ([]watchdog.Observation, error) {
	if c.observe != nil {
		if err := c.observe(ctx); err != nil {
			return nil, err
		}
	}
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	subjects := make([]string, 0, len(c.w.stuck))
	for s := range c.w.stuck {
		subjects = append(subjects, s)
	}
	sort.Strings(subjects)
	out := make([]watchdog.Observation, 0, len(subjects))
	for _, s := range subjects {
		s := s
		if c.w.report {
			out = append(out, watchdog.Observation{Subject: s, Detail: s + " is stuck", Page: c.w.page, Priority: notify.PriorityHigh})
			continue
		}
		out = append(out, watchdog.Observation{Subject: s, Action: "fix", Detail: s + " is stuck", OperatorHeld: c.w.held[s],
			Page: c.w.page, Priority: notify.PriorityHigh, Apply: func(_ context.Context, token uint64) error {
				c.w.mu.Lock()
				defer c.w.mu.Unlock()
				c.w.applied = append(c.w.applied, s)
				if c.w.fail != nil {
					return c.w.fail
				}
				if c.w.fixes {
					delete(c.w.stuck, s)
				}
				_ = token
				return nil
			}})
	}
	return out, nil
}

type localCheck struct{ check }

func (c *localCheck) Local() bool { return true }

// pager records notifications; with resolves set it also resolves by key.
type pager struct {
	mu       sync.Mutex
	sent     []notify.Notification
	resolved []notify.Notification
	err      error
}

func (p *pager) Notify(_ context.Context, n notify.Notification) (notify.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return notify.Result{}, p.err
	}
	p.sent = append(p.sent, n)
	return notify.Result{Delivered: true, Priority: n.Priority}, nil
}

func (p *pager) pages() []notify.Notification {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]notify.Notification(nil), p.sent...)
}

func (p *pager) resolves() []notify.Notification {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]notify.Notification(nil), p.resolved...)
}

// resolvingPager is a pager that resolves by key (the notify.Resolver
// method set).
type resolvingPager struct{ pager }

func (p *resolvingPager) Resolve(_ context.Context, n notify.Notification) (notify.Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resolved = append(p.resolved, n)
	return notify.Result{Delivered: true, Priority: n.Priority}, nil
}

// newRunner builds a runner on a fake clock with the given checks; edit
// adjusts the config.
func newRunner(t *testing.T, clk *clock.Fake, edit func(*watchdog.Config), checks ...watchdog.Check) *watchdog.Runner {
	t.Helper()
	cfg := watchdog.Config{Checks: checks, Clock: clk, Jitter: -1, Session: "replica-a",
		Logger: slog.New(slog.DiscardHandler)}
	if edit != nil {
		edit(&cfg)
	}
	r, err := watchdog.New(cfg)
	require.NoError(t, err)
	return r
}

// kinds returns "kind subject" for each finding of check (all when empty).
func kinds(rep watchdog.Report, check string) []string {
	var out []string
	for _, f := range rep.Findings {
		if check == "" || f.Check == check {
			out = append(out, f.Kind+" "+f.Subject)
		}
	}
	return out
}

func count(rep watchdog.Report, kind string) int {
	n := 0
	for _, f := range rep.Findings {
		if f.Kind == kind {
			n++
		}
	}
	return n
}
