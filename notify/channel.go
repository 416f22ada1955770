package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blast"
	"github.com/baldur-go/baldur/middleware"
)

// sender sends one message to one endpoint.
type sender interface {
	send(ctx context.Context, m *Message) error
}

// sendError is a failed send, with every secret left out: it names the
// channel and the status or the transport's error with the URL and key
// scrubbed.
type sendError struct {
	channel    string
	status     int
	cause      string
	retryAfter time.Duration
	permanent  bool // a 4xx other than 429: retrying cannot help
	rejected   bool // the breaker or the cooldown refused it: no request was sent
}

func (e *sendError) Error() string {
	if e.status != 0 {
		return "notify: channel " + e.channel + ": status " + strconv.Itoa(e.status)
	}
	return "notify: channel " + e.channel + ": " + e.cause
}

// logSender writes messages to a slog.Logger, at a level by priority.
type logSender struct {
	log *slog.Logger
}

func (s logSender) send(ctx context.Context, m *Message) error {
	lvl := slog.LevelInfo
	switch {
	case m.Resolved:
	case m.Priority >= PriorityHigh:
		lvl = slog.LevelError
	case m.Priority == PriorityWarning:
		lvl = slog.LevelWarn
	}
	msg := "notification"
	if m.Resolved {
		msg = "notification resolved"
	}
	s.log.LogAttrs(ctx, lvl, msg, slog.String("priority", m.Priority.String()), slog.String("source", m.Source),
		slog.String("title", m.Title), slog.String("body", m.Body), slog.String("key", m.Key), slog.Int("count", m.Count),
		slog.Bool("test", m.Test))
	return nil
}

// httpSender posts JSON to a webhook, Slack or PagerDuty through the
// toolkit's transport: a breaker per channel and the 429/503 cooldown.
type httpSender struct {
	name, kind string
	service    string
	url        string // secret
	routingKey string // secret
	client     *http.Client
	breakers   *blast.Breakers
}

func newHTTPSender(ch ChannelConfig, service, rawURL, routingKey string, clock baldur.Clock, next http.RoundTripper) (*httpSender, error) {
	bc := ch.Breaker
	bc.Clock = clock
	br, err := blast.NewBreakers(bc)
	if err != nil {
		return nil, err
	}
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "notify." + ch.Name, Gates: []baldur.Gate{br}, Clock: clock})
	if err != nil {
		return nil, err
	}
	op := "notify " + ch.Name
	tr := middleware.NewTransport(baldur.Static(p), middleware.TransportConfig{
		Next:      next,
		Operation: func(*http.Request) string { return op },
		Key:       func(*http.Request) string { return ch.Name },
		Clock:     clock,
		Cooldown:  ch.Cooldown,
	})
	return &httpSender{name: ch.Name, kind: ch.Type, service: service, url: rawURL, routingKey: routingKey,
		client: &http.Client{Transport: tr}, breakers: br}, nil
}

// breakerOpen reports whether the channel's breaker rejects sends now.
func (s *httpSender) breakerOpen() bool { return len(s.breakers.Open()) > 0 }

func (s *httpSender) send(ctx context.Context, m *Message) error {
	body, err := s.payload(m)
	if err != nil {
		return &sendError{channel: s.name, cause: "encoding failed", permanent: true}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return &sendError{channel: s.name, cause: "invalid URL", permanent: true}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return s.transportError(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	e := &sendError{channel: s.name, status: resp.StatusCode}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			e.retryAfter = time.Duration(min(secs, 3600)) * time.Second
		}
	} else if resp.StatusCode < 500 {
		e.permanent = true
	}
	return e
}

// transportError keeps the rejection of the breaker or the cooldown (for
// its Retry-After) and scrubs the URL and the key from anything else.
func (s *httpSender) transportError(err error) error {
	if rej, ok := baldur.AsRejection(err); ok {
		return &sendError{channel: s.name, cause: "rejected: " + string(rej.Reason()), retryAfter: rej.RetryAfter(), rejected: true}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &sendError{channel: s.name, cause: "timeout"}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &sendError{channel: s.name, cause: s.scrub(err.Error())}
}

func (s *httpSender) scrub(msg string) string {
	for _, secret := range []string{s.url, s.routingKey} {
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "<redacted>")
		}
	}
	if u, err := url.Parse(s.url); err == nil && u.Path != "" && u.Path != "/" {
		msg = strings.ReplaceAll(msg, u.Path, "/<redacted>")
		if u.RawQuery != "" {
			msg = strings.ReplaceAll(msg, u.RawQuery, "<redacted>")
		}
	}
	return msg
}

func (s *httpSender) payload(m *Message) ([]byte, error) {
	switch s.kind {
	case TypeSlack:
		return json.Marshal(map[string]string{"text": m.text()})
	case TypePagerDuty:
		ev := pdEvent{RoutingKey: s.routingKey, DedupKey: m.DedupKey, EventAction: "trigger"}
		if m.Resolved {
			ev.EventAction = "resolve"
		} else {
			ev.Payload = &pdPayload{Summary: truncate(m.text(), 1024), Source: s.service, Severity: pdSeverity(m.Priority),
				Component: m.Source, Timestamp: m.At.UTC().Format(time.RFC3339)}
		}
		return json.Marshal(ev)
	default:
		return json.Marshal(webhookBody{Service: s.service, Priority: m.Priority.String(), Source: m.Source, Title: m.Title,
			Body: m.Body, Key: m.Key, DedupKey: m.DedupKey, Count: m.Count, Titles: m.Titles, Resolved: m.Resolved, Test: m.Test,
			At: m.At.UTC(), Text: m.text()})
	}
}

type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
}

type pdPayload struct {
	Summary   string `json:"summary"`
	Source    string `json:"source"`
	Severity  string `json:"severity"`
	Component string `json:"component,omitempty"`
	Timestamp string `json:"timestamp,omitempty"`
}

func pdSeverity(p Priority) string {
	switch p {
	case PriorityCritical:
		return "critical"
	case PriorityHigh:
		return "error"
	case PriorityWarning:
		return "warning"
	}
	return "info"
}

type webhookBody struct {
	Service  string    `json:"service"`
	Priority string    `json:"priority"`
	Source   string    `json:"source"`
	Title    string    `json:"title"`
	Body     string    `json:"body,omitempty"`
	Key      string    `json:"key,omitempty"`
	DedupKey string    `json:"dedup_key"`
	Count    int       `json:"count"`
	Titles   []string  `json:"titles,omitempty"`
	Resolved bool      `json:"resolved,omitempty"`
	Test     bool      `json:"test,omitempty"`
	At       time.Time `json:"at"`
	Text     string    `json:"text"`
}
