package dlq

import (
	"context"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
)

// autoState holds the auto-replay runs, one per domain at most.
type autoState struct {
	mu      sync.Mutex
	runs    map[string]*autoRun
	parts   map[string]string // partition key or operation → domain
	closing bool
}

type autoRun struct {
	lim     *rate.Limiter
	left    int
	timer   baldur.Timer
	stopped bool
}

func (q *Queue) initAuto() {
	q.auto.runs = map[string]*autoRun{}
	q.auto.parts = map[string]string{}
	for _, d := range q.cfg.Domains {
		if !d.AutoReplay {
			continue
		}
		ps := d.Partitions
		if len(ps) == 0 {
			ps = []string{d.Name}
		}
		for _, p := range ps {
			q.auto.parts[p] = d.Name
		}
	}
}

// OnBreakerStateChange arms auto-replay of the domain whose partitions
// include p's key or operation (Domain.Partitions, with AutoReplay set)
// when p's breaker closes. Give it as blast.BreakerConfig.OnStateChange
// (or call it from one). It only schedules: the replays run on the
// clock's timer goroutine, never on the caller's.
func (q *Queue) OnBreakerStateChange(p blast.Partition, from, to blast.State) {
	if to != blast.StateClosed || from == blast.StateClosed {
		return
	}
	q.auto.mu.Lock()
	d, ok := q.auto.parts[p.Key]
	if !ok {
		d, ok = q.auto.parts[p.Operation]
	}
	q.auto.mu.Unlock()
	if ok {
		q.Arm(d)
	}
}

// Arm starts an auto-replay run for domain unless one runs: at most
// AutoReplay.Max entries, oldest first, in batches of AutoReplay.Burst
// paced by a token bucket of AutoReplay.Rate per second, stopping at the
// first failure or block (the run is a probe of the recovered dependency,
// as half-open is) or when nothing pends. It reports whether it started
// one.
func (q *Queue) Arm(domain string) bool {
	q.auto.mu.Lock()
	defer q.auto.mu.Unlock()
	if q.auto.closing || q.auto.runs[domain] != nil {
		return false
	}
	r := &autoRun{lim: rate.NewLimiter(rate.Limit(q.cfg.AutoReplay.Rate), q.cfg.AutoReplay.Burst), left: q.cfg.AutoReplay.Max}
	q.auto.runs[domain] = r
	q.scheduleLocked(domain, r)
	return true
}

// Disarm stops domain's run; it reports whether one ran. A batch in
// progress finishes.
func (q *Queue) Disarm(domain string) bool {
	q.auto.mu.Lock()
	defer q.auto.mu.Unlock()
	r := q.auto.runs[domain]
	if r == nil {
		return false
	}
	r.stopped = true
	if r.timer != nil {
		r.timer.Stop()
	}
	delete(q.auto.runs, domain)
	return true
}

// Armed reports whether an auto-replay run is active for domain.
func (q *Queue) Armed(domain string) bool {
	q.auto.mu.Lock()
	defer q.auto.mu.Unlock()
	return q.auto.runs[domain] != nil
}

func (a *autoState) armedDomains() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(a.runs))
	for d := range a.runs {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

func (a *autoState) stopAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closing = true
	for d, r := range a.runs {
		r.stopped = true
		if r.timer != nil {
			r.timer.Stop()
		}
		delete(a.runs, d)
	}
}

// scheduleLocked reserves the next batch's tokens and sets the timer for
// when they are there.
func (q *Queue) scheduleLocked(domain string, r *autoRun) {
	n := min(q.cfg.AutoReplay.Burst, r.left)
	now := q.clock.Now()
	delay := r.lim.ReserveN(now, n).DelayFrom(now)
	r.timer = q.clock.AfterFunc(delay, func() { q.autoStep(domain, r, n) })
}

func (q *Queue) autoStep(domain string, r *autoRun, n int) {
	q.auto.mu.Lock()
	if r.stopped {
		q.auto.mu.Unlock()
		return
	}
	q.auto.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	res, err := q.replayBatch(ctx, Filter{Domain: domain, Statuses: []Status{Pending}, Limit: n}, true)
	cancel()
	q.auto.mu.Lock()
	r.left -= res.Attempted
	stop := err != nil || res.Failed > 0 || res.Blocked > 0 || res.Attempted+res.Skipped < n || r.left <= 0 || r.stopped
	if stop {
		r.stopped = true
		if q.auto.runs[domain] == r {
			delete(q.auto.runs, domain)
		}
	} else {
		q.scheduleLocked(domain, r)
	}
	q.auto.mu.Unlock()
	if f := q.cfg.OnAutoReplay; f != nil {
		f(domain, res, stop)
	}
}
