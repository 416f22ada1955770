package notify

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// job is one message queued on one channel.
type job struct {
	msg      *Message
	d        *delivery
	attempts int
}

// delivery tracks one message over the channels it was queued on and
// settles once, when the last of them succeeded or gave up.
type delivery struct {
	pending atomic.Int32
	ok      atomic.Bool
	settle  func(ok bool)
}

func (d *delivery) done(ok bool) {
	if d == nil {
		return
	}
	if ok {
		d.ok.Store(true)
	}
	if d.pending.Add(-1) == 0 && d.settle != nil {
		d.settle(d.ok.Load())
	}
}

// channel is one configured channel: its sender behind a bounded queue
// drained by one worker.
type channel struct {
	name, kind string
	cfg        ChannelConfig
	s          sender
	hs         *httpSender // nil for a log channel
	m          *Pipeline

	rateMu sync.Mutex
	rate   *bucket // per-minute limit of non-CRITICAL sends; nil: none

	mu    sync.Mutex
	buf   []*job // ring
	head  int
	n     int
	wake  chan struct{}
	retry bool // the worker waits for a retry delay

	sending                        atomic.Bool
	sent, failed, dropped, refused atomic.Uint64
	lastErr                        atomic.Pointer[string]
	lastErrAt                      atomic.Int64
}

func (c *channel) allow(now int64) bool {
	if c.rate == nil {
		return true
	}
	c.rateMu.Lock()
	defer c.rateMu.Unlock()
	c.rate.refill(now)
	if c.rate.tokens < 1 {
		return false
	}
	c.rate.tokens--
	return true
}

// push queues j; when the queue is full the oldest non-CRITICAL job is
// dropped (returned, to be settled by the caller outside the lock), and
// when every queued job is CRITICAL, j is refused.
func (c *channel) push(j *job, front bool) (ok bool, dropped *job) {
	c.mu.Lock()
	if c.n == len(c.buf) {
		i := 0
		for ; i < c.n; i++ {
			if c.buf[(c.head+i)%len(c.buf)].msg.Priority < PriorityCritical {
				break
			}
		}
		if i == c.n {
			c.mu.Unlock()
			c.refused.Add(1)
			return false, nil
		}
		dropped = c.buf[(c.head+i)%len(c.buf)]
		for k := i; k > 0; k-- { // close the gap, keeping the order
			c.buf[(c.head+k)%len(c.buf)] = c.buf[(c.head+k-1)%len(c.buf)]
		}
		c.buf[c.head] = nil
		c.head = (c.head + 1) % len(c.buf)
		c.n--
		c.dropped.Add(1)
	}
	if front {
		c.head = (c.head - 1 + len(c.buf)) % len(c.buf)
		c.buf[c.head] = j
	} else {
		c.buf[(c.head+c.n)%len(c.buf)] = j
	}
	c.n++
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true, dropped
}

func (c *channel) pop() *job {
	c.mu.Lock()
	if c.n > 0 && !c.retry {
		c.sending.Store(true) // before the queue shows empty
	}
	defer c.mu.Unlock()
	if c.n == 0 || c.retry {
		return nil
	}
	j := c.buf[c.head]
	c.buf[c.head] = nil
	c.head = (c.head + 1) % len(c.buf)
	c.n--
	return j
}

func (c *channel) depth() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// run drains the queue until stop closes.
func (c *channel) run(ctx context.Context, stop <-chan struct{}) {
	for {
		j := c.pop()
		if j == nil {
			select {
			case <-stop:
				return
			case <-c.wake:
				continue
			}
		}
		c.sending.Store(true)
		c.deliver(ctx, j)
		c.sending.Store(false)
	}
}

func (c *channel) deliver(ctx context.Context, j *job) {
	sctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout.D())
	err := c.s.send(sctx, j.msg)
	cancel()
	if err == nil {
		c.sent.Add(1)
		j.d.done(true)
		return
	}
	c.failed.Add(1)
	msg := err.Error()
	c.lastErr.Store(&msg)
	c.lastErrAt.Store(c.m.clock.Now().UnixNano())
	var se *sendError
	wait := c.cfg.RetryDelay.D()
	permanent, rejected := false, false
	if errors.As(err, &se) {
		permanent, rejected = se.permanent, se.rejected
		if se.retryAfter > 0 {
			wait = max(se.retryAfter, time.Second)
		}
	}
	if !rejected {
		// A rejection by the breaker or the cooldown sent nothing: the job
		// waits for the endpoint without spending an attempt, and the
		// bounded queue sheds the oldest non-CRITICAL meanwhile.
		j.attempts++
	}
	if permanent || j.attempts >= c.cfg.MaxAttempts || ctx.Err() != nil {
		j.d.done(false)
		return
	}
	// Back off: the job goes back to the head and the worker waits on the
	// clock, so a dead endpoint costs one try per delay, not a busy loop.
	c.mu.Lock()
	c.retry = true
	c.mu.Unlock()
	if ok, dropped := c.push(j, true); !ok {
		j.d.done(false)
	} else if dropped != nil {
		dropped.d.done(false)
	}
	c.m.clock.AfterFunc(wait, func() {
		c.mu.Lock()
		c.retry = false
		c.mu.Unlock()
		select {
		case c.wake <- struct{}{}:
		default:
		}
	})
}
