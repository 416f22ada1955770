package notify

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
)

// Silence mutes the notifications its Matcher selects until ExpiresAt. An
// expiry is required and at most MaxSilence (7 days) ahead, and so are an
// actor and a reason: a silence nobody can explain is a pager nobody hears.
type Silence struct {
	// ID is assigned by AddSilence.
	ID      string    `json:"id,omitempty"`
	Matcher Matcher   `json:"matchers"`
	Actor   string    `json:"actor"`
	Reason  string    `json:"reason"`
	Created time.Time `json:"created_at,omitzero"`
	// ExpiresAt is when the silence ends.
	ExpiresAt time.Time `json:"expires_at"`
}

// validate checks s; with a non-zero now, the expiry must also be after now
// and at most MaxSilence ahead.
func (s *Silence) validate(at string, now time.Time) error {
	if err := s.Matcher.validate(at + ".matchers"); err != nil {
		return err
	}
	switch {
	case s.Actor == "" || len(s.Actor) > 256:
		return &baldur.ConfigError{Field: at + ".actor", Value: s.Actor, Reason: "is required (at most 256 bytes)"}
	case s.Reason == "" || len(s.Reason) > 512:
		return &baldur.ConfigError{Field: at + ".reason", Value: s.Reason, Reason: "is required (at most 512 bytes)"}
	case s.ExpiresAt.IsZero():
		return &baldur.ConfigError{Field: at + ".expires_at", Reason: "is required"}
	}
	if !now.IsZero() {
		if !s.ExpiresAt.After(now) {
			return &baldur.ConfigError{Field: at + ".expires_at", Value: s.ExpiresAt.Format(time.RFC3339), Reason: "is not in the future"}
		}
		if s.ExpiresAt.Sub(now) > MaxSilence {
			return &baldur.ConfigError{Field: at + ".expires_at", Value: s.ExpiresAt.Format(time.RFC3339), Reason: "is more than 168h ahead"}
		}
	}
	return nil
}

type silence struct {
	Silence
	until int64 // ExpiresAt in unix nanoseconds
}

// silences is a copy-on-write list: matching is one atomic load and a loop,
// writes are rare (operators).
type silences struct {
	mu   sync.Mutex
	list atomic.Pointer[[]*silence]
}

func (ss *silences) match(n *Notification, p Priority, now int64) *silence {
	l := ss.list.Load()
	if l == nil {
		return nil
	}
	for _, s := range *l {
		if s.until > now && s.Matcher.Matches(n, p) {
			return s
		}
	}
	return nil
}

func (ss *silences) add(s Silence, now time.Time) (Silence, error) {
	if err := s.validate("silence", now); err != nil {
		return Silence{}, err
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	s.ID = hex.EncodeToString(b[:])
	s.Created = now
	ss.mu.Lock()
	defer ss.mu.Unlock()
	var cur []*silence
	if l := ss.list.Load(); l != nil {
		cur = *l
	}
	next := make([]*silence, 0, len(cur)+1)
	for _, x := range cur {
		if x.until > now.UnixNano() {
			next = append(next, x)
		}
	}
	next = append(next, &silence{Silence: s, until: s.ExpiresAt.UnixNano()})
	ss.list.Store(&next)
	return s, nil
}

func (ss *silences) remove(id string) (Silence, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	l := ss.list.Load()
	if l == nil {
		return Silence{}, false
	}
	i := slices.IndexFunc(*l, func(s *silence) bool { return s.ID == id })
	if i < 0 {
		return Silence{}, false
	}
	gone := (*l)[i].Silence
	next := slices.Delete(slices.Clone(*l), i, i+1)
	ss.list.Store(&next)
	return gone, true
}

func (ss *silences) active(now time.Time) []Silence {
	out := []Silence{}
	if l := ss.list.Load(); l != nil {
		for _, s := range *l {
			if s.until > now.UnixNano() {
				out = append(out, s.Silence)
			}
		}
	}
	return out
}
