package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Message is what a channel sends: a notification after the pipeline, or
// the summary of a group (Count > 1), or a resolve.
type Message struct {
	Priority Priority
	Source   string
	Title    string
	Body     string
	Key      string
	// DedupKey correlates a trigger with its resolve (PagerDuty's
	// dedup_key): the first 32 hex digits of sha256(service ":" key).
	DedupKey string
	// Count is how many notifications the message stands for (1 unless it
	// is a group summary or a coalesced message); Titles are their
	// distinct titles, at most maxTitles.
	Count  int
	Titles []string
	// Resolved marks a resolve.
	Resolved bool
	// Test marks an operator's test send.
	Test bool
	At   time.Time
}

const maxTitles = 10

// DedupKey is the PagerDuty dedup key of a notification's key (its Key, or
// Source "/" Title) for service: the first 32 hex digits of
// sha256(service ":" key). It also names the key's fleet claim, so a raw
// key never reaches Redis.
func DedupKey(service, key string) string { return dedupKey(service, key) }

func dedupKey(service, key string) string {
	s := sha256.Sum256([]byte(service + ":" + key))
	return hex.EncodeToString(s[:16])
}

// effectiveKey is n's cooldown key: Key, or source and title, never
// broader.
func effectiveKey(n *Notification) string {
	if n.Key != "" {
		return n.Key
	}
	return n.Source + "/" + n.Title
}

// text renders m as one chat line.
func (m *Message) text() string {
	var b strings.Builder
	switch {
	case m.Resolved:
		b.WriteString("[RESOLVED] ")
	case m.Test:
		b.WriteString("[TEST] ")
	default:
		b.WriteString("[" + m.Priority.String() + "] ")
	}
	if m.Source != "" {
		b.WriteString(m.Source + ": ")
	}
	b.WriteString(m.Title)
	if m.Count > 1 {
		b.WriteString(" (+" + strconv.Itoa(m.Count-1) + " more: " + strings.Join(m.Titles, "; ") + ")")
	}
	if m.Body != "" && !m.Resolved {
		b.WriteString("\n" + m.Body)
	}
	return b.String()
}

// truncate cuts s to at most n bytes at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
