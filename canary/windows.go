package canary

import (
	"context"
	"maps"
	"sync"
)

// MemoryWindows is a WindowStore for one process. Safe for concurrent use.
type MemoryWindows struct {
	mu sync.Mutex
	m  map[windowKey]*Window
}

type windowKey struct {
	rollout string
	window  int64
	cohort  Cohort
}

// NewMemoryWindows returns an empty store.
func NewMemoryWindows() *MemoryWindows { return &MemoryWindows{m: map[windowKey]*Window{}} }

// AddWindow adds w.
func (s *MemoryWindows) AddWindow(_ context.Context, rollout string, window int64, c Cohort, w Window) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := windowKey{rollout, window, c}
	cur := s.m[k]
	if cur == nil {
		cur = &Window{Rejected: map[string]uint64{}}
		s.m[k] = cur
	}
	cur.Counts.Add(w.Counts)
	for r, n := range w.Rejected {
		cur.Rejected[r] += n
	}
	return nil
}

// Window returns the sum, the zero Window when nothing was added.
func (s *MemoryWindows) Window(_ context.Context, rollout string, window int64, c Cohort) (Window, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.m[windowKey{rollout, window, c}]
	if cur == nil {
		return Window{}, nil
	}
	return Window{Counts: cur.Counts, Rejected: maps.Clone(cur.Rejected)}, nil
}

// Drop forgets rollout's windows.
func (s *MemoryWindows) Drop(_ context.Context, rollout string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.m {
		if k.rollout == rollout {
			delete(s.m, k)
		}
	}
	return nil
}
