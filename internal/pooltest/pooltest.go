// Package pooltest holds the helpers the adapters' and the registry's tests
// share to drive a bulkhead.Pool: build one that closes with the test, read
// how many calls it holds, and wait for its workers to finish their part.
package pooltest

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/bulkhead"
)

// New builds a pool from cfg and closes it when the test ends.
func New(t testing.TB, cfg bulkhead.PoolConfig) *bulkhead.Pool {
	t.Helper()
	p, err := bulkhead.NewPool(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// InFlight returns the calls p holds: admitted, queued or running.
func InFlight(p *bulkhead.Pool) int {
	st := p.State()
	return st.Active + st.Waiting
}

// WaitFor yields until cond holds, failing the test after ten seconds. It
// observes work ending on other goroutines (a worker's, a server's); it
// never lets a clock's time pass.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		require.False(t, time.Now().After(deadline), "timed out waiting for %s", what)
		runtime.Gosched()
	}
}

// Peak tracks the most calls inside a section at once, for hammers that
// check a pool never runs more than its workers. It is safe for concurrent
// use; the zero Peak is ready.
type Peak struct {
	mu        sync.Mutex
	now, most int
}

// Inside counts one call inside the section while it yields once, so
// that other goroutines may enter meanwhile.
func (p *Peak) Inside() {
	p.mu.Lock()
	p.now++
	p.most = max(p.most, p.now)
	p.mu.Unlock()
	runtime.Gosched()
	p.mu.Lock()
	p.now--
	p.mu.Unlock()
}

// Most returns the most calls seen inside at once.
func (p *Peak) Most() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.most
}
