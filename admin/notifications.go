package admin

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/registry"
)

// Notifications is what the notification endpoints need of the pipeline;
// *notify.Pipeline has it. Implementations must be safe for concurrent
// use.
type Notifications interface {
	Channels() []notify.ChannelStatus
	Recent() []notify.Record
	Silences() []notify.Silence
	AddSilence(ctx context.Context, s notify.Silence) (notify.Silence, error)
	DeleteSilence(ctx context.Context, id string) (notify.Silence, bool)
	TestSend(ctx context.Context, channel, actor, reason string) (notify.Result, error)
}

// notificationsRoutes registers the notification endpoints: channel health
// and the last results (VIEWER), silences (OPERATOR to add, ADMIN to
// delete, both audited with a reason) and a test send (OPERATOR).
func (s *Server) notificationsRoutes() {
	s.route("GET /notifications/channels", AccessViewer, "", maxControlBody, s.notifyChannels)
	s.route("GET /notifications/results", AccessViewer, "", maxControlBody, s.notifyResults)
	s.route("GET /notifications/silences", AccessViewer, "", maxControlBody, s.notifySilences)
	s.route("POST /notifications/silences", AccessOperator, "notifications.silence", maxControlBody, s.notifySilence)
	s.route("DELETE /notifications/silences/{id}", AccessAdmin, "notifications.unsilence", maxControlBody, s.notifyUnsilence)
	s.route("POST /notifications/test", AccessOperator, "notifications.test", maxControlBody, s.notifyTest)
}

func (s *Server) notifier() (Notifications, *apiError) {
	if s.cfg.Notifications == nil {
		return nil, &apiError{status: http.StatusNotFound, msg: "no notification pipeline configured"}
	}
	return s.cfg.Notifications, nil
}

type items[T any] struct {
	Items []T `json:"items"`
}

func (s *Server) notifyChannels(*http.Request, *request) (any, []slog.Attr, *apiError) {
	n, e := s.notifier()
	if e != nil {
		return nil, nil, e
	}
	return items[notify.ChannelStatus]{n.Channels()}, nil, nil
}

// resultView is a Record with flat scalar fields.
type resultView struct {
	At         time.Time `json:"at"`
	Priority   string    `json:"priority"`
	Source     string    `json:"source"`
	Title      string    `json:"title"`
	Key        string    `json:"key,omitempty"`
	Resolve    bool      `json:"resolve"`
	Delivered  bool      `json:"delivered"`
	Suppressed string    `json:"suppressed,omitempty"`
	Channels   string    `json:"channels,omitempty"`
}

func (s *Server) notifyResults(*http.Request, *request) (any, []slog.Attr, *apiError) {
	n, e := s.notifier()
	if e != nil {
		return nil, nil, e
	}
	recs := n.Recent()
	out := make([]resultView, len(recs))
	for i, r := range recs {
		out[i] = resultView{At: r.At, Priority: r.Priority.String(), Source: r.Source, Title: r.Title, Key: r.Key, Resolve: r.Resolve,
			Delivered: r.Delivered, Suppressed: string(r.Suppressed), Channels: strings.Join(r.Channels, ",")}
	}
	return items[resultView]{out}, nil, nil
}

// silenceView is a Silence with flat scalar fields.
type silenceView struct {
	ID          string    `json:"id"`
	Source      string    `json:"source,omitempty"`
	Key         string    `json:"key,omitempty"`
	MinPriority string    `json:"min_priority,omitempty"`
	MaxPriority string    `json:"max_priority,omitempty"`
	Actor       string    `json:"actor"`
	Reason      string    `json:"reason"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
}

func viewSilence(s notify.Silence) silenceView {
	v := silenceView{ID: s.ID, Source: s.Matcher.Source, Key: s.Matcher.Key, Actor: s.Actor, Reason: s.Reason, CreatedAt: s.Created, ExpiresAt: s.ExpiresAt}
	if p := s.Matcher.MinPriority; p != nil {
		v.MinPriority = p.String()
	}
	if p := s.Matcher.MaxPriority; p != nil {
		v.MaxPriority = p.String()
	}
	return v
}

func (s *Server) notifySilences(*http.Request, *request) (any, []slog.Attr, *apiError) {
	n, e := s.notifier()
	if e != nil {
		return nil, nil, e
	}
	ss := n.Silences()
	out := make([]silenceView, len(ss))
	for i, x := range ss {
		out[i] = viewSilence(x)
	}
	return items[silenceView]{out}, nil, nil
}

type silenceRequest struct {
	Matchers  notify.Matcher    `json:"matchers"`
	ExpiresAt time.Time         `json:"expires_at"`
	Duration  registry.Duration `json:"duration"`
	Reason    string            `json:"reason"`
}

func (in *silenceRequest) validate() *apiError {
	if e := checkText("reason", in.Reason, true, 512); e != nil {
		return e
	}
	if in.ExpiresAt.IsZero() == (in.Duration == 0) {
		return badRequest("expires_at", "exactly one of expires_at and duration is required (at most 168h ahead)")
	}
	if e := checkDuration("duration", in.Duration); e != nil {
		return e
	}
	for _, f := range []struct{ name, v string }{{"matchers.source", in.Matchers.Source}, {"matchers.key", in.Matchers.Key}} {
		if e := checkText(f.name, f.v, false, 512); e != nil {
			return e
		}
	}
	return nil
}

func (s *Server) notifySilence(r *http.Request, req *request) (any, []slog.Attr, *apiError) {
	var in silenceRequest
	e := decodeInput(r, &in)
	attrs := []slog.Attr{slog.String("source", in.Matchers.Source), slog.String("key", in.Matchers.Key), slog.String("reason", truncate(in.Reason))}
	if e != nil {
		return nil, attrs, e
	}
	n, e := s.notifier()
	if e != nil {
		return nil, attrs, e
	}
	exp := in.ExpiresAt
	if exp.IsZero() {
		exp = s.clock.Now().Add(in.Duration.D())
	}
	sil, err := n.AddSilence(r.Context(), notify.Silence{Matcher: in.Matchers, Actor: req.actor, Reason: in.Reason, ExpiresAt: exp})
	if err != nil {
		return nil, attrs, refused(err, http.StatusBadRequest, "adding the silence")
	}
	attrs = append(attrs, slog.String("id", sil.ID), slog.Time("expires_at", sil.ExpiresAt))
	return viewSilence(sil), attrs, nil
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

func (in *reasonRequest) validate() *apiError { return checkText("reason", in.Reason, true, 512) }

func (s *Server) notifyUnsilence(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	id := r.PathValue("id")
	var in reasonRequest
	e := decodeInput(r, &in)
	attrs := []slog.Attr{slog.String("id", truncate(id)), slog.String("reason", truncate(in.Reason))}
	if e != nil {
		return nil, attrs, e
	}
	n, e := s.notifier()
	if e != nil {
		return nil, attrs, e
	}
	sil, ok := n.DeleteSilence(r.Context(), id)
	if !ok {
		return nil, attrs, &apiError{status: http.StatusNotFound, msg: "no silence with this id (expired or deleted)"}
	}
	return viewSilence(sil), attrs, nil
}

type testSendRequest struct {
	Channel string `json:"channel"`
	Reason  string `json:"reason"`
}

func (in *testSendRequest) validate() *apiError {
	if e := checkText("channel", in.Channel, true, 64); e != nil {
		return e
	}
	return checkText("reason", in.Reason, true, 512)
}

func (s *Server) notifyTest(r *http.Request, req *request) (any, []slog.Attr, *apiError) {
	var in testSendRequest
	e := decodeInput(r, &in)
	attrs := []slog.Attr{slog.String("channel", truncate(in.Channel)), slog.String("reason", truncate(in.Reason))}
	if e != nil {
		return nil, attrs, e
	}
	n, e := s.notifier()
	if e != nil {
		return nil, attrs, e
	}
	known := false
	for _, c := range n.Channels() {
		known = known || c.Name == in.Channel
	}
	if !known {
		return nil, attrs, &apiError{status: http.StatusNotFound, msg: "no channel named " + truncate(in.Channel), field: "channel"}
	}
	res, err := n.TestSend(r.Context(), in.Channel, req.actor, in.Reason)
	if err != nil {
		return nil, attrs, &apiError{status: http.StatusServiceUnavailable, msg: "the channel refused the test message: its queue is full"}
	}
	return map[string]any{"queued": res.Delivered, "channel": in.Channel}, attrs, nil
}
