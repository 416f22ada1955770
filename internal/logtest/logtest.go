// Package logtest holds what tests need to read a component's log: a
// buffer that the component's goroutines may write while the test reads.
package logtest

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer for a log sink (an slog handler's writer).
// Its methods are safe for concurrent use; the zero value is empty and
// ready.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
