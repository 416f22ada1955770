package notify

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// RingSize is how many results Recent keeps.
const RingSize = 100

// Record is one result of the pipeline, as the admin API lists it.
type Record struct {
	At         time.Time      `json:"at"`
	Priority   Priority       `json:"priority"`
	Source     string         `json:"source"`
	Title      string         `json:"title"`
	Key        string         `json:"key,omitempty"`
	Resolve    bool           `json:"resolve,omitempty"`
	Delivered  bool           `json:"delivered"`
	Suppressed SuppressReason `json:"suppressed,omitempty"`
	Channels   []string       `json:"channels,omitempty"`
}

// ring holds the last RingSize records. Writing one copies a struct of
// string headers under a mutex: no allocation, so the storm case stays
// cheap.
type ring struct {
	mu   sync.Mutex
	buf  [RingSize]Record
	next int
	full bool
}

func (r *ring) add(rec Record) {
	r.mu.Lock()
	r.buf[r.next] = rec
	r.next++
	if r.next == RingSize {
		r.next, r.full = 0, true
	}
	r.mu.Unlock()
}

// recent returns the records newest first.
func (r *ring) recent() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	if r.full {
		n = RingSize
	}
	out := make([]Record, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.buf[(r.next-i+RingSize)%RingSize])
	}
	return out
}

// record is the audit step: every result is counted and kept in the ring;
// what was sent (or refused) is also logged, suppressions are not (a storm
// of them would become a storm of log lines).
func (p *Pipeline) record(n *Notification, r *Result, now time.Time, resolve bool) {
	p.metrics.result(r)
	p.ring.add(Record{At: now, Priority: r.Priority, Source: n.Source, Title: n.Title, Key: n.Key, Resolve: resolve,
		Delivered: r.Delivered, Suppressed: r.Suppressed, Channels: r.Channels})
	if r.Delivered || r.Suppressed == SuppressRefused {
		p.log.LogAttrs(context.Background(), slog.LevelInfo, "notify: audit",
			slog.String("priority", r.Priority.String()), slog.String("source", n.Source), slog.String("title", n.Title),
			slog.Bool("resolve", resolve), slog.Bool("delivered", r.Delivered), slog.String("suppressed", string(r.Suppressed)),
			slog.Any("channels", r.Channels))
	}
}

// Recent returns the last RingSize results, newest first, with their
// suppression reasons.
func (p *Pipeline) Recent() []Record { return p.ring.recent() }
