package notify

import (
	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/glob"
)

// Matcher selects notifications by source, key and priority; an empty
// field matches everything. It is the matcher of silences, inhibition
// rules and routes.
type Matcher struct {
	// Source is the notification's Source, '*' matching any run of bytes.
	Source string `json:"source,omitempty"`
	// Key is matched against the notification's Key, or its Title when the
	// Key is empty, '*' matching any run of bytes.
	Key string `json:"key,omitempty"`
	// MinPriority and MaxPriority bound the priority (after escalation),
	// both inclusive.
	MinPriority *Priority `json:"min_priority,omitempty"`
	MaxPriority *Priority `json:"max_priority,omitempty"`
}

func (m *Matcher) validate(at string) error {
	if len(m.Source) > MaxSource {
		return &baldur.ConfigError{Field: at + ".source", Value: m.Source, Reason: "longer than 128 bytes"}
	}
	if len(m.Key) > MaxKey {
		return &baldur.ConfigError{Field: at + ".key", Value: m.Key, Reason: "longer than 512 bytes"}
	}
	for _, p := range []struct {
		name string
		v    *Priority
	}{{".min_priority", m.MinPriority}, {".max_priority", m.MaxPriority}} {
		if p.v != nil && !p.v.Valid() {
			return &baldur.ConfigError{Field: at + p.name, Value: p.v.String(), Reason: "must be a priority"}
		}
	}
	if m.MinPriority != nil && m.MaxPriority != nil && *m.MinPriority > *m.MaxPriority {
		return &baldur.ConfigError{Field: at + ".min_priority", Value: m.MinPriority.String(), Reason: "must not exceed max_priority"}
	}
	return nil
}

// Matches reports whether n, at priority p, matches m. It allocates
// nothing.
func (m *Matcher) Matches(n *Notification, p Priority) bool {
	if m.MinPriority != nil && p < *m.MinPriority {
		return false
	}
	if m.MaxPriority != nil && p > *m.MaxPriority {
		return false
	}
	if m.Source != "" && !glob.Match(m.Source, n.Source) {
		return false
	}
	if m.Key != "" {
		k := n.Key
		if k == "" {
			k = n.Title
		}
		if !glob.Match(m.Key, k) {
			return false
		}
	}
	return true
}
