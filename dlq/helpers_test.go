package dlq_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/dlq"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// hangRepo is a repository whose Add blocks (ignoring its context) until
// release is closed, and that can be made to fail.
type hangRepo struct {
	*dlq.Memory
	hang    chan struct{}
	once    sync.Once
	entered chan struct{}
	mu      sync.Mutex
	fail    error
	adds    int
}

func newHangRepo(clk baldur.Clock, hang bool) *hangRepo {
	r := &hangRepo{Memory: dlq.NewMemory(dlq.MemoryConfig{Limits: dlq.Limits{Capacity: 10_000_000, DomainCapacity: 10_000_000}, Clock: clk}),
		hang: make(chan struct{}), entered: make(chan struct{})}
	if !hang {
		close(r.hang)
	}
	return r
}

func (r *hangRepo) release() { r.once.Do(func() { close(r.hang) }) }

func (r *hangRepo) setFail(err error) {
	r.mu.Lock()
	r.fail = err
	r.mu.Unlock()
}

func (r *hangRepo) Add(ctx context.Context, es []dlq.Entry) (dlq.AddResult, error) {
	select {
	case <-r.entered:
	default:
		close(r.entered)
	}
	<-r.hang
	r.mu.Lock()
	err := r.fail
	r.adds++
	r.mu.Unlock()
	if err != nil {
		return dlq.AddResult{}, err
	}
	return r.Memory.Add(ctx, es)
}

func newQueue(t *testing.T, cfg dlq.Config) *dlq.Queue {
	t.Helper()
	if cfg.Clock == nil {
		cfg.Clock = clock.NewFake(t0)
	}
	q, err := dlq.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = q.Close(ctx)
	})
	return q
}

func closeNow(t *testing.T, q *dlq.Queue) {
	t.Helper()
	require.NoError(t, q.Close(context.Background()))
}

func countAll(t *testing.T, r dlq.Repository) int {
	t.Helper()
	c, err := r.Counts(context.Background())
	require.NoError(t, err)
	n := 0
	for _, v := range c {
		n += v.Total()
	}
	return n
}
