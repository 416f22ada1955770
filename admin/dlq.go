package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/baldur-go/baldur/dlq"
)

// DLQ is what the dead-letter endpoints need of a queue; *dlq.Queue has
// it. Implementations must be safe for concurrent use.
type DLQ interface {
	Stats(ctx context.Context) (dlq.Stats, error)
	List(ctx context.Context, f dlq.Filter) ([]dlq.Entry, error)
	Get(ctx context.Context, id string) (dlq.Entry, error)
	Groups(ctx context.Context) ([]dlq.Group, error)
	GroupIDs(ctx context.Context, group string, n int) ([]string, error)
	ReplayIDs(ctx context.Context, ids []string, dryRun bool) (dlq.BatchResult, error)
	ReplayDomain(ctx context.Context, domain string, n int, dryRun bool) (dlq.BatchResult, error)
	ReplayGroup(ctx context.Context, group string, n int, dryRun bool) (dlq.BatchResult, error)
	Redrive(ctx context.Context, ids []string) ([]string, error)
	Delete(ctx context.Context, ids []string) (int, error)
	Arm(domain string) bool
	Disarm(domain string) bool
}

// Bounds of the DLQ endpoints.
const (
	dlqMaxIDs    = 1000
	dlqMaxList   = 1000
	dlqMaxReplay = 1000
)

// dlqRoutes registers the dead-letter endpoints: reads for viewers
// (metadata only), an entry with its payload for operators, replays,
// redrives and arming for operators, deletion for admins; every write
// audited with its reason.
func (s *Server) dlqRoutes() {
	s.route("GET /dlq/stats", AccessViewer, "", maxControlBody, s.dlqStats)
	s.route("GET /dlq/entries", AccessViewer, "", maxControlBody, s.dlqEntries)
	s.route("GET /dlq/entries/{id}", AccessOperator, "", maxControlBody, s.dlqEntry)
	s.route("GET /dlq/groups", AccessViewer, "", maxControlBody, s.dlqGroups)
	s.route("POST /dlq/replay", AccessOperator, "dlq.replay", maxControlBody, s.dlqReplay)
	s.route("POST /dlq/redrive", AccessOperator, "dlq.redrive", maxControlBody, s.dlqRedrive)
	s.route("DELETE /dlq/entries", AccessAdmin, "dlq.delete", maxControlBody, s.dlqDelete)
	s.route("POST /dlq/auto-replay", AccessOperator, "dlq.auto_replay", maxControlBody, s.dlqAutoReplay)
}

func (s *Server) dlqQueue() (DLQ, *apiError) {
	if s.cfg.DLQ == nil {
		return nil, &apiError{status: http.StatusNotFound, msg: "no dead-letter queue configured"}
	}
	return s.cfg.DLQ, nil
}

func dlqError(what string, err error) *apiError {
	switch {
	case errors.Is(err, dlq.ErrNotFound):
		return &apiError{status: http.StatusNotFound, msg: "no such entry"}
	case errors.Is(err, dlq.ErrConflict):
		return &apiError{status: http.StatusConflict, msg: "the entry is not in a status that allows this"}
	}
	return internal(what, err)
}

// dlqEntryView is an entry's metadata, flat for a table: no payload, no
// headers, and the URL without its query.
type dlqEntryView struct {
	ID             string     `json:"id"`
	Domain         string     `json:"domain"`
	Operation      string     `json:"operation"`
	Tier           string     `json:"tier"`
	Origin         string     `json:"origin"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	FailureType    string     `json:"failure_type"`
	Error          string     `json:"error"`
	Group          string     `json:"group"`
	Method         string     `json:"method,omitempty"`
	Target         string     `json:"target,omitempty"`
	TraceID        string     `json:"trace_id,omitempty"`
	PayloadBytes   int        `json:"payload_bytes"`
	Truncated      bool       `json:"truncated"`
	PayloadDropped string     `json:"payload_dropped,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	ExpiresAt      *time.Time `json:"expires_at,omitempty"`
	LeaseUntil     *time.Time `json:"lease_until,omitempty"`
}

func viewOf(e *dlq.Entry) dlqEntryView {
	v := dlqEntryView{ID: e.ID, Domain: e.Domain, Operation: e.Operation, Tier: e.Tier.String(), Origin: e.Origin.String(),
		Status: e.Status.String(), Attempts: e.Attempts, FailureType: e.FailureType, Error: truncate(e.Error), Group: e.Group,
		Method: e.Method, TraceID: e.TraceID, PayloadBytes: len(e.Payload), Truncated: e.Truncated, PayloadDropped: e.PayloadDropped,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
	if u, err := url.Parse(e.URL); err == nil && e.URL != "" {
		u.RawQuery, u.Fragment, u.User = "", "", nil
		v.Target = u.String()
	}
	if !e.ExpiresAt.IsZero() {
		v.ExpiresAt = &e.ExpiresAt
	}
	if !e.LeaseUntil.IsZero() {
		v.LeaseUntil = &e.LeaseUntil
	}
	return v
}

func (s *Server) dlqStats(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	q, e := s.dlqQueue()
	if e != nil {
		return nil, nil, e
	}
	st, err := q.Stats(r.Context())
	if err != nil {
		return nil, nil, internal("dlq stats", err)
	}
	by := map[string]int{}
	for i, n := range st.ByStatus {
		by[dlq.Status(i).String()] = n
	}
	out := map[string]any{"total": st.Total, "by_status": by, "by_domain": st.ByDomain, "capacity": st.Capacity,
		"domain_capacity": st.DomainCapacity, "auto_replay_armed": st.AutoReplayArmed, "outbox_depth": st.OutboxDepth, "spilled": st.Spilled,
		"dropped": st.Dropped}
	if !st.Oldest.IsZero() {
		out["oldest_pending"] = st.Oldest
	}
	return out, nil, nil
}

func (s *Server) dlqEntries(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	q, e := s.dlqQueue()
	if e != nil {
		return nil, nil, e
	}
	v := r.URL.Query()
	f := dlq.Filter{Domain: v.Get("domain"), Group: v.Get("group"), After: v.Get("after"), Limit: dlq.DefaultListLimit}
	for _, p := range []struct{ name, v string }{{"domain", f.Domain}, {"group", f.Group}, {"after", f.After}} {
		if e := checkText(p.name, p.v, false, 128); e != nil {
			return nil, nil, e
		}
	}
	if st := v.Get("status"); st != "" {
		s, err := dlq.ParseStatus(st)
		if err != nil {
			return nil, nil, badRequest("status", err.Error())
		}
		f.Statuses = []dlq.Status{s}
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > dlqMaxList {
			return nil, nil, badRequest("limit", "limit must be 1 to "+strconv.Itoa(dlqMaxList))
		}
		f.Limit = n
	}
	es, err := q.List(r.Context(), f)
	if err != nil {
		return nil, nil, dlqError("dlq list", err)
	}
	items := make([]dlqEntryView, len(es))
	for i := range es {
		items[i] = viewOf(&es[i])
	}
	return map[string]any{"items": items}, nil, nil
}

// dlqEntry answers one entry with its (masked) payload and headers:
// OPERATOR only.
func (s *Server) dlqEntry(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	q, e := s.dlqQueue()
	if e != nil {
		return nil, nil, e
	}
	id := r.PathValue("id")
	if e := checkText("id", id, true, 128); e != nil {
		return nil, nil, e
	}
	en, err := q.Get(r.Context(), id)
	if err != nil {
		return nil, nil, dlqError("dlq get", err)
	}
	return map[string]any{"entry": viewOf(&en), "url": en.URL, "header": en.Header, "payload": string(en.Payload)}, nil, nil
}

type dlqGroupView struct {
	Group          string    `json:"group"`
	Domain         string    `json:"domain"`
	Operation      string    `json:"operation"`
	FailureType    string    `json:"failure_type"`
	Error          string    `json:"error"`
	Count          int       `json:"count"`
	Pending        int       `json:"pending"`
	Replaying      int       `json:"replaying"`
	Resolved       int       `json:"resolved"`
	RequiresReview int       `json:"requires_review"`
	First          time.Time `json:"first"`
	Last           time.Time `json:"last"`
}

func (s *Server) dlqGroups(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	q, e := s.dlqQueue()
	if e != nil {
		return nil, nil, e
	}
	gs, err := q.Groups(r.Context())
	if err != nil {
		return nil, nil, internal("dlq groups", err)
	}
	items := make([]dlqGroupView, len(gs))
	for i, g := range gs {
		items[i] = dlqGroupView{Group: g.Group, Domain: g.Domain, Operation: g.Operation, FailureType: g.FailureType, Error: truncate(g.Error),
			Count: g.Count, Pending: g.ByStatus[dlq.Pending], Replaying: g.ByStatus[dlq.Replaying], Resolved: g.ByStatus[dlq.Resolved],
			RequiresReview: g.ByStatus[dlq.RequiresReview], First: g.First, Last: g.Last}
	}
	return map[string]any{"items": items}, nil, nil
}

// dlqSelect is the body of the DLQ writes: exactly one selector.
type dlqSelect struct {
	IDs    []string `json:"ids,omitempty"`
	Domain string   `json:"domain,omitempty"`
	Group  string   `json:"group,omitempty"`
	Limit  int      `json:"limit,omitempty"`
	DryRun bool     `json:"dry_run,omitempty"`
	Reason string   `json:"reason"`

	allowDomain bool
}

func (in *dlqSelect) validate() *apiError {
	if e := checkText("reason", in.Reason, true, 512); e != nil {
		return e
	}
	n := 0
	if len(in.IDs) > 0 {
		n++
	}
	if in.Domain != "" {
		if !in.allowDomain {
			return badRequest("domain", "select by ids or group")
		}
		n++
	}
	if in.Group != "" {
		n++
	}
	if n != 1 {
		return badRequest("", "give exactly one of ids, domain, group")
	}
	if len(in.IDs) > dlqMaxIDs {
		return badRequest("ids", "at most "+strconv.Itoa(dlqMaxIDs)+" ids")
	}
	for _, id := range in.IDs {
		if e := checkText("ids", id, true, 128); e != nil {
			return e
		}
	}
	if e := checkText("domain", in.Domain, false, 128); e != nil {
		return e
	}
	if e := checkText("group", in.Group, false, 128); e != nil {
		return e
	}
	if in.Limit < 0 || in.Limit > dlqMaxReplay {
		return badRequest("limit", "limit must be 0 (100) to "+strconv.Itoa(dlqMaxReplay))
	}
	if in.Limit == 0 {
		in.Limit = 100
	}
	return nil
}

// attrs are the selection's audit attributes; none before it decoded.
func (in *dlqSelect) attrs() []slog.Attr {
	if in == nil {
		return nil
	}
	return []slog.Attr{slog.Int("ids", len(in.IDs)), slog.String("domain", in.Domain), slog.String("group", in.Group),
		slog.Bool("dry_run", in.DryRun), slog.String("reason", in.Reason)}
}

func batchView(r dlq.BatchResult) map[string]any {
	ids := r.IDs
	if ids == nil {
		ids = []string{}
	}
	return map[string]any{"attempted": r.Attempted, "resolved": r.Resolved, "failed": r.Failed, "blocked": r.Blocked,
		"skipped": r.Skipped, "ids": ids}
}

func (s *Server) dlqReplay(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	q, e := s.dlqQueue()
	if e != nil {
		return nil, nil, e
	}
	in := dlqSelect{allowDomain: true}
	if e := decodeInput(r, &in); e != nil {
		return nil, nil, e
	}
	var res dlq.BatchResult
	var err error
	switch {
	case len(in.IDs) > 0:
		res, err = q.ReplayIDs(r.Context(), in.IDs, in.DryRun)
	case in.Domain != "":
		res, err = q.ReplayDomain(r.Context(), in.Domain, in.Limit, in.DryRun)
	default:
		res, err = q.ReplayGroup(r.Context(), in.Group, in.Limit, in.DryRun)
	}
	attrs := append(in.attrs(), slog.Int("resolved", res.Resolved), slog.Int("failed", res.Failed), slog.Int("blocked", res.Blocked))
	if err != nil {
		return nil, attrs, internal("dlq replay", err)
	}
	return batchView(res), attrs, nil
}

// dlqSelected is what redrive and delete share: the queue, the decoded
// selection (IDs or a group; nil until it decoded) and the IDs it names.
func (s *Server) dlqSelected(r *http.Request) (DLQ, *dlqSelect, []string, *apiError) {
	q, e := s.dlqQueue()
	if e != nil {
		return nil, nil, nil, e
	}
	var in dlqSelect
	if e := decodeInput(r, &in); e != nil {
		return nil, nil, nil, e
	}
	if len(in.IDs) > 0 {
		return q, &in, in.IDs, nil
	}
	ids, err := q.GroupIDs(r.Context(), in.Group, dlqMaxIDs)
	if err != nil {
		return nil, &in, nil, internal("dlq group", err)
	}
	return q, &in, ids, nil
}

func (s *Server) dlqRedrive(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	q, in, ids, e := s.dlqSelected(r)
	if e != nil {
		return nil, in.attrs(), e
	}
	moved, err := q.Redrive(r.Context(), ids)
	attrs := append(in.attrs(), slog.Int("moved", len(moved)))
	if err != nil {
		return nil, attrs, internal("dlq redrive", err)
	}
	if moved == nil {
		moved = []string{}
	}
	return map[string]any{"moved": moved}, attrs, nil
}

func (s *Server) dlqDelete(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	q, in, ids, e := s.dlqSelected(r)
	if e != nil {
		return nil, in.attrs(), e
	}
	n, err := q.Delete(r.Context(), ids)
	attrs := append(in.attrs(), slog.Int("deleted", n))
	if err != nil {
		return nil, attrs, internal("dlq delete", err)
	}
	return map[string]any{"deleted": n}, attrs, nil
}

type dlqArm struct {
	Domain string `json:"domain"`
	Armed  bool   `json:"armed"`
	Reason string `json:"reason"`
}

func (in *dlqArm) validate() *apiError {
	if e := checkText("domain", in.Domain, true, 128); e != nil {
		return e
	}
	return checkText("reason", in.Reason, true, 512)
}

func (s *Server) dlqAutoReplay(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	q, e := s.dlqQueue()
	if e != nil {
		return nil, nil, e
	}
	var in dlqArm
	if e := decodeInput(r, &in); e != nil {
		return nil, nil, e
	}
	attrs := []slog.Attr{slog.String("domain", in.Domain), slog.Bool("armed", in.Armed), slog.String("reason", in.Reason)}
	var changed bool
	if in.Armed {
		changed = q.Arm(in.Domain)
	} else {
		changed = q.Disarm(in.Domain)
	}
	attrs = append(attrs, slog.Bool("changed", changed))
	return map[string]any{"domain": in.Domain, "armed": in.Armed, "changed": changed}, attrs, nil
}
