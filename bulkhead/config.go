package bulkhead

import (
	"strconv"
	"time"

	"github.com/baldur-go/baldur"
)

// Defaults applied where a Config or PoolConfig field is zero.
const (
	// DefaultRetryAfter is the Retry-After advised with a rejection.
	DefaultRetryAfter = time.Second
	// DefaultTimeout bounds a pool execution, counted from enqueue.
	DefaultTimeout = 30 * time.Second
)

// Config declares a semaphore compartment. The zero value is not valid:
// Name and MaxConcurrent are required.
type Config struct {
	// Name identifies the compartment in errors, states and metrics.
	// Required.
	Name string `json:"-"`
	// MaxConcurrent is the number of permits: calls holding one run at the
	// same time, the others wait or are rejected. Must be > 0. Resize
	// changes it on a live compartment.
	MaxConcurrent int `json:"max_concurrent,omitempty"`
	// MaxWait bounds how long a call waits for a permit. It bounds only the
	// wait, never the call that holds the permit. Zero means fail fast: a
	// full compartment rejects at once. Must not be negative.
	MaxWait baldur.Duration `json:"max_wait,omitempty"`
	// RetryAfter is advised to rejected callers (Retry-After header, gRPC
	// RetryInfo), rounded up to whole seconds. Zero means DefaultRetryAfter
	// (1 s). Must not be negative.
	RetryAfter baldur.Duration `json:"retry_after,omitempty"`
	// Clock times the wait. Nil means baldur.SystemClock(); tests inject
	// clock.NewFake.
	Clock baldur.Clock `json:"-"`
}

func (c Config) normalized() (Config, error) {
	if c.Name == "" {
		return c, &baldur.ConfigError{Field: "Name", Reason: "must not be empty"}
	}
	if c.MaxConcurrent <= 0 {
		return c, &baldur.ConfigError{Field: "MaxConcurrent", Value: strconv.Itoa(c.MaxConcurrent), Reason: "must be > 0"}
	}
	if c.MaxConcurrent > maxPermits {
		return c, &baldur.ConfigError{Field: "MaxConcurrent", Value: strconv.Itoa(c.MaxConcurrent), Reason: "must be <= " + strconv.Itoa(maxPermits)}
	}
	if c.MaxWait < 0 {
		return c, &baldur.ConfigError{Field: "MaxWait", Value: c.MaxWait.String(), Reason: "must not be negative"}
	}
	if c.RetryAfter < 0 {
		return c, &baldur.ConfigError{Field: "RetryAfter", Value: c.RetryAfter.String(), Reason: "must not be negative"}
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = baldur.Duration(DefaultRetryAfter)
	}
	if c.Clock == nil {
		c.Clock = baldur.SystemClock()
	}
	return c, nil
}

// Bounds of PoolConfig: both are allocated when the pool is built, so a
// typo must not start a billion goroutines or overflow Workers+QueueSize.
const (
	maxWorkers   = 1 << 16
	maxQueueSize = 1 << 20
)

// PoolConfig declares a worker-pool compartment. The zero value is not
// valid: Name and Workers are required.
type PoolConfig struct {
	// Name identifies the compartment in errors, states and metrics.
	// Required.
	Name string `json:"-"`
	// Workers is the number of worker goroutines, started by NewPool and
	// stopped by Close: the pool's maximum concurrency. Must be in
	// 1..65536: every worker is a goroutine started at once.
	Workers int `json:"workers"`
	// QueueSize bounds the calls waiting for a worker. A call that finds
	// every worker busy and the queue full is rejected at once. Zero means
	// no queue: a call runs only if a worker is idle. Must be in
	// 0..1048576 (2^20): the queue is a channel buffer allocated at once,
	// 8 bytes a slot.
	QueueSize int `json:"queue_size,omitempty"`
	// Timeout bounds one execution, counted from enqueue (queueing
	// included). When it passes, the caller is freed with a *TimeoutError
	// (ErrTimeout) and the work's context is cancelled with cause
	// ErrTimeout. Zero means DefaultTimeout (30 s). Must not be negative.
	Timeout baldur.Duration `json:"timeout,omitempty"`
	// RetryAfter is advised to rejected callers, rounded up to whole
	// seconds. Zero means DefaultRetryAfter (1 s). Must not be negative.
	RetryAfter baldur.Duration `json:"retry_after,omitempty"`
	// Clock times executions. Nil means baldur.SystemClock().
	Clock baldur.Clock `json:"-"`
}

func (c PoolConfig) normalized() (PoolConfig, error) {
	if c.Name == "" {
		return c, &baldur.ConfigError{Field: "Name", Reason: "must not be empty"}
	}
	if c.Workers <= 0 {
		return c, &baldur.ConfigError{Field: "Workers", Value: strconv.Itoa(c.Workers), Reason: "must be > 0"}
	}
	if c.Workers > maxWorkers {
		return c, &baldur.ConfigError{Field: "Workers", Value: strconv.Itoa(c.Workers), Reason: "must be <= " + strconv.Itoa(maxWorkers)}
	}
	if c.QueueSize < 0 {
		return c, &baldur.ConfigError{Field: "QueueSize", Value: strconv.Itoa(c.QueueSize), Reason: "must not be negative"}
	}
	if c.QueueSize > maxQueueSize {
		return c, &baldur.ConfigError{Field: "QueueSize", Value: strconv.Itoa(c.QueueSize), Reason: "must be <= " + strconv.Itoa(maxQueueSize)}
	}
	if c.Timeout < 0 {
		return c, &baldur.ConfigError{Field: "Timeout", Value: c.Timeout.String(), Reason: "must not be negative"}
	}
	if c.RetryAfter < 0 {
		return c, &baldur.ConfigError{Field: "RetryAfter", Value: c.RetryAfter.String(), Reason: "must not be negative"}
	}
	if c.Timeout == 0 {
		c.Timeout = baldur.Duration(DefaultTimeout)
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = baldur.Duration(DefaultRetryAfter)
	}
	if c.Clock == nil {
		c.Clock = baldur.SystemClock()
	}
	return c, nil
}

// sameClock compares two clocks without panicking on uncomparable dynamic
// types (a clock struct holding a func, say), which count as different.
func sameClock(a, b baldur.Clock) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}
