package redistest

import (
	"sync"
	"testing"
)

// Shared is one server for a whole test package, started by the first test
// that asks for it and stopped by Close (call it from TestMain after m.Run).
// Tests that pause, kill or restart a server must Start their own.
//
// Shared is safe for concurrent use.
type Shared struct {
	opts Options
	mu   sync.Mutex
	s    *Server
}

// NewShared returns a Shared that starts its server with opts.
func NewShared(opts Options) *Shared { return &Shared{opts: opts} }

// Get returns the package's server, starting it on first use. It skips or
// fails t as Binary does when no server binary is found.
func (sh *Shared) Get(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.s == nil {
		s, err := start(bin, sh.opts)
		if err != nil {
			t.Fatal(err)
		}
		sh.s = s
	}
	return sh.s
}

// Close stops the server if one was started.
func (sh *Shared) Close() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.s != nil {
		sh.s.Close()
		sh.s = nil
	}
}
