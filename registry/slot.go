package registry

import "sync/atomic"

// Slot holds the provider of one role. Get and SafeGet are lock-free, so a
// hot path may resolve through a slot on every call. A Slot is safe for
// concurrent use; its zero value is an empty slot without a default.
type Slot[T any] struct {
	name string
	v    atomic.Pointer[T]
	def  *T
}

func newSlot[T any](name string, def *T) Slot[T] { return Slot[T]{name: name, def: def} }

// Name returns the slot's name, such as "governance".
func (s *Slot[T]) Name() string { return s.name }

// Get returns the provider that was Set, else the slot's default, else the
// zero T (a nil interface).
func (s *Slot[T]) Get() T {
	if p := s.v.Load(); p != nil {
		return *p
	}
	if s.def != nil {
		return *s.def
	}
	var zero T
	return zero
}

// SafeGet returns the provider and true when one was Set or the slot has a
// pre-registered default; for a slot that exists only with a real
// implementation (admin identity, say) it reports false until one is Set.
func (s *Slot[T]) SafeGet() (T, bool) {
	if p := s.v.Load(); p != nil {
		return *p, true
	}
	if s.def != nil {
		return *s.def, true
	}
	var zero T
	return zero, false
}

// Set registers v as the slot's provider, replacing any earlier one.
func (s *Slot[T]) Set(v T) { s.v.Store(&v) }

// Unset removes the provider that was Set; Get returns the default again.
func (s *Slot[T]) Unset() { s.v.Store(nil) }

// IsSet reports whether a provider was Set (a default does not count).
func (s *Slot[T]) IsSet() bool { return s.v.Load() != nil }

// HasDefault reports whether the slot has a pre-registered default.
func (s *Slot[T]) HasDefault() bool { return s.def != nil }

// Override sets v and returns a function that restores what was there
// before. Tests use it with t.Cleanup:
//
//	t.Cleanup(reg.Governance.Override(fake))
func (s *Slot[T]) Override(v T) (restore func()) {
	prev := s.v.Swap(&v)
	return func() { s.v.Store(prev) }
}
