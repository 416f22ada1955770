package notify

import (
	"context"
	"time"
)

// ChannelStatus is one channel's health, as the admin API shows it.
type ChannelStatus struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	QueueDepth  int    `json:"queue_depth"`
	QueueSize   int    `json:"queue_size"`
	BreakerOpen bool   `json:"breaker_open"`
	// Sending is true while the worker is sending a message.
	Sending     bool      `json:"sending"`
	Sent        uint64    `json:"sent"`
	Failed      uint64    `json:"failed"`
	Dropped     uint64    `json:"dropped"`
	Refused     uint64    `json:"refused"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// Channels returns the channels' health; errors in it name no secret.
func (p *Pipeline) Channels() []ChannelStatus {
	out := make([]ChannelStatus, 0, len(p.channels))
	for _, c := range p.channels {
		st := ChannelStatus{Name: c.name, Type: c.kind, QueueDepth: c.depth(), QueueSize: len(c.buf), Sent: c.sent.Load(),
			Failed: c.failed.Load(), Dropped: c.dropped.Load(), Refused: c.refused.Load(), Sending: c.sending.Load()}
		if c.hs != nil {
			st.BreakerOpen = c.hs.breakerOpen()
		}
		if e := c.lastErr.Load(); e != nil {
			st.LastError = *e
			st.LastErrorAt = time.Unix(0, c.lastErrAt.Load())
		}
		out = append(out, st)
	}
	return out
}

// Silences returns the silences in force.
func (p *Pipeline) Silences() []Silence { return p.silences.active(p.clock.Now()) }

// AddSilence installs s (its ID and creation time are assigned). The
// expiry must be in the future and at most MaxSilence ahead; the actor and
// reason are required. The error is a *baldur.ConfigError naming the
// field.
func (p *Pipeline) AddSilence(_ context.Context, s Silence) (Silence, error) {
	return p.silences.add(s, p.clock.Now())
}

// DeleteSilence removes the silence id; false when there is none.
func (p *Pipeline) DeleteSilence(_ context.Context, id string) (Silence, bool) {
	return p.silences.remove(id)
}
