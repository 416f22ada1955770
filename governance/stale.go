package governance

import (
	"time"

	"github.com/baldur-go/baldur"
)

// held is the last good read of one part of the governance state, kept for
// Config.StaleIfError.
type held[T any] struct {
	v  T
	at time.Time
	ok bool
}

// heldState holds the last good read of each part the snapshot is built
// from.
type heldState struct {
	breakGlass held[BreakGlass]
	switches   held[[]KillSwitch]
	emergency  held[baldur.EmergencyState]
}

// heldRead is what a snapshot rebuild uses for a part after one read.
type heldRead[T any] struct {
	v T
	// ok is false when the part fails open (no value to use).
	ok bool
	// since is the time of the last good read used in place of a failed
	// one; zero when v is the read itself.
	since time.Time
	// expired reports that the last good read just passed the window:
	// it was dropped and the part now fails open.
	expired bool
}

// read returns what to build from after a read that returned v, err at
// now: v itself when err is nil (remembered as the last good read); the
// last good value while it is younger than window; nothing otherwise.
func (h *held[T]) read(v T, err error, now time.Time, window time.Duration) heldRead[T] {
	if err == nil {
		h.v, h.at, h.ok = v, now, true
		return heldRead[T]{v: v, ok: true}
	}
	if !h.ok || window <= 0 {
		return heldRead[T]{}
	}
	if now.Sub(h.at) < window {
		return heldRead[T]{v: h.v, ok: true, since: h.at}
	}
	var zero T
	h.v, h.ok = zero, false
	return heldRead[T]{expired: true}
}
