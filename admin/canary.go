package admin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/baldur-go/baldur/canary"
)

// Canary is what the canary endpoints need of a rollout service;
// *canary.Service has it. Implementations must be safe for concurrent use.
type Canary interface {
	List(ctx context.Context) []canary.Status
	Get(ctx context.Context, id string) (canary.Status, error)
	Create(ctx context.Context, plan canary.Plan, op canary.Op) (canary.Status, error)
	Start(ctx context.Context, id string, op canary.Op) (canary.Status, error)
	Promote(ctx context.Context, id string, op canary.Op) (canary.Status, error)
	Pause(ctx context.Context, id string, op canary.Op) (canary.Status, error)
	Resume(ctx context.Context, id string, op canary.Op) (canary.Status, error)
	Rollback(ctx context.Context, id string, op canary.Op) (canary.Status, error)
	PanicRollback(ctx context.Context, op canary.Op) ([]string, error)
}

// canaryRoutes registers the rollout endpoints: list and status
// (VIEWER), create and the operator actions (OPERATOR; a bypass of the
// gates needs ADMIN), and panic rollback (ADMIN). Every write is audited.
func (s *Server) canaryRoutes() {
	s.route("GET /canary/rollouts", AccessViewer, "", maxControlBody, s.canaryList)
	s.route("GET /canary/rollouts/{id}", AccessViewer, "", maxControlBody, s.canaryGet)
	s.route("POST /canary/rollouts", AccessOperator, "canary.create", maxConfigBody, s.canaryCreate)
	for _, a := range []struct {
		name string
		do   func(Canary) func(context.Context, string, canary.Op) (canary.Status, error)
	}{
		{"promote", func(c Canary) func(context.Context, string, canary.Op) (canary.Status, error) { return c.Promote }},
		{"pause", func(c Canary) func(context.Context, string, canary.Op) (canary.Status, error) { return c.Pause }},
		{"resume", func(c Canary) func(context.Context, string, canary.Op) (canary.Status, error) { return c.Resume }},
		{"rollback", func(c Canary) func(context.Context, string, canary.Op) (canary.Status, error) { return c.Rollback }},
	} {
		s.route("POST /canary/rollouts/{id}/"+a.name, AccessOperator, "canary."+a.name, maxControlBody, s.canaryAction(a.do))
	}
	s.route("POST /canary/panic-rollback", AccessAdmin, "canary.panic_rollback", maxControlBody, s.canaryPanic)
}

func (s *Server) canarySvc() (Canary, *apiError) {
	if s.cfg.Canary == nil {
		return nil, &apiError{status: http.StatusNotFound, msg: "no canary rollout service configured"}
	}
	return s.cfg.Canary, nil
}

// canaryRow is a rollout as a list shows it: flat scalars.
type canaryRow struct {
	ID         string  `json:"id"`
	ConfigType string  `json:"config_type"`
	State      string  `json:"state"`
	Stage      int     `json:"stage"`
	Stages     int     `json:"stages"`
	Share      float64 `json:"share"`
	Applied    bool    `json:"applied"`
	AckRatio   float64 `json:"ack_ratio"`
	Blocked    string  `json:"blocked,omitempty"`
	Verdict    string  `json:"verdict,omitempty"`
	// Candidate and baseline numbers of the last judged window.
	CandidateRequests      uint64  `json:"candidate_requests"`
	CandidateRejectionRate float64 `json:"candidate_rejection_rate"`
	BaselineRequests       uint64  `json:"baseline_requests"`
	BaselineRejectionRate  float64 `json:"baseline_rejection_rate"`
}

func rowOf(st canary.Status) canaryRow {
	r := canaryRow{ID: st.RolloutID, ConfigType: st.Type, State: st.Current.String(), Stage: st.StageIndex, Stages: st.Stages,
		Share: st.Share, Applied: st.Applied, AckRatio: st.AckRatio, Blocked: st.Blocked}
	if v := st.Verdict; v != nil {
		r.Verdict = v.Verdict.String()
		r.CandidateRequests, r.CandidateRejectionRate = v.Candidate.Requests, v.Candidate.RejectionRate
		r.BaselineRequests, r.BaselineRejectionRate = v.Baseline.Requests, v.Baseline.RejectionRate
	}
	return r
}

func (s *Server) canaryList(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	c, e := s.canarySvc()
	if e != nil {
		return nil, nil, e
	}
	items := []canaryRow{}
	for _, st := range c.List(r.Context()) {
		items = append(items, rowOf(st))
	}
	return map[string]any{"items": items}, nil, nil
}

func (s *Server) canaryGet(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	c, e := s.canarySvc()
	if e != nil {
		return nil, nil, e
	}
	st, err := c.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, nil, canaryError(err)
	}
	return st, nil, nil
}

// canaryOp is the body of an operator action.
type canaryOp struct {
	Reason       string `json:"reason"`
	BypassReason string `json:"bypass_reason,omitempty"`
}

func (in *canaryOp) validate() *apiError {
	if e := checkText("reason", in.Reason, true, 512); e != nil {
		return e
	}
	if e := checkText("bypass_reason", in.BypassReason, false, 512); e != nil {
		return e
	}
	if in.BypassReason != "" && len(in.BypassReason) < canary.MinBypassReason {
		return badRequest("bypass_reason", "bypass_reason must be at least 10 characters")
	}
	return nil
}

func (in *canaryOp) op(req *request) (canary.Op, *apiError) {
	if in.BypassReason != "" && req.access < AccessAdmin {
		return canary.Op{}, &apiError{status: http.StatusForbidden, msg: "a bypass of the canary gates requires ADMIN"}
	}
	return canary.Op{Actor: req.actor, Reason: in.Reason, BypassReason: in.BypassReason}, nil
}

func (in *canaryOp) attrs() []slog.Attr {
	a := []slog.Attr{slog.String("reason", in.Reason)}
	if in.BypassReason != "" {
		a = append(a, slog.String("bypass_reason", in.BypassReason))
	}
	return a
}

// canaryCreateIn is a posted rollout: the plan, whether to start it at
// once (default true), and the operator's reason.
type canaryCreateIn struct {
	canaryOp
	ConfigType string          `json:"config_type,omitempty"`
	Candidate  json.RawMessage `json:"candidate"`
	Stages     []canary.Stage  `json:"stages"`
	Start      *bool           `json:"start,omitempty"`
}

func (in *canaryCreateIn) validate() *apiError { return in.canaryOp.validate() }

func (s *Server) canaryCreate(r *http.Request, req *request) (any, []slog.Attr, *apiError) {
	c, e := s.canarySvc()
	if e != nil {
		return nil, nil, e
	}
	var in canaryCreateIn
	if e := decodeInput(r, &in); e != nil {
		return nil, nil, e
	}
	op, e := in.op(req)
	if e != nil {
		return nil, nil, e
	}
	attrs := append(in.attrs(), slog.String("config_type", in.ConfigType), slog.Int("stages", len(in.Stages)),
		slog.String("candidate_hash", canary.ConfigHash(in.Candidate)))
	st, err := c.Create(r.Context(), canary.Plan{ConfigType: in.ConfigType, Candidate: in.Candidate, Stages: in.Stages}, op)
	if err != nil {
		return nil, attrs, canaryError(err)
	}
	attrs = append(attrs, slog.String("rollout", st.RolloutID))
	if in.Start == nil || *in.Start {
		started, err := c.Start(r.Context(), st.RolloutID, op)
		if err != nil {
			e := canaryError(err)
			e.msg = "created " + st.RolloutID + " but not started: " + e.msg
			return nil, attrs, e
		}
		st = started
	}
	return st, attrs, nil
}

func (s *Server) canaryAction(do func(Canary) func(context.Context, string, canary.Op) (canary.Status, error)) handlerFunc {
	return func(r *http.Request, req *request) (any, []slog.Attr, *apiError) {
		c, e := s.canarySvc()
		if e != nil {
			return nil, nil, e
		}
		var in canaryOp
		if e := decodeInput(r, &in); e != nil {
			return nil, nil, e
		}
		id := r.PathValue("id")
		attrs := append(in.attrs(), slog.String("rollout", id))
		op, e := in.op(req)
		if e != nil {
			return nil, attrs, e
		}
		st, err := do(c)(r.Context(), id, op)
		if err != nil {
			return nil, attrs, canaryError(err)
		}
		return st, append(attrs, slog.String("state", st.Current.String())), nil
	}
}

func (s *Server) canaryPanic(r *http.Request, req *request) (any, []slog.Attr, *apiError) {
	c, e := s.canarySvc()
	if e != nil {
		return nil, nil, e
	}
	var in canaryOp
	if e := decodeInput(r, &in); e != nil {
		return nil, nil, e
	}
	ids, err := c.PanicRollback(r.Context(), canary.Op{Actor: req.actor, Reason: in.Reason})
	attrs := append(in.attrs(), slog.Int("rolled_back", len(ids)))
	if ids == nil {
		ids = []string{}
	}
	body := map[string]any{"rolled_back": ids}
	if err != nil {
		body["errors"] = truncate(err.Error())
		attrs = append(attrs, slog.String("errors", err.Error()))
	}
	return body, attrs, nil
}

func canaryError(err error) *apiError {
	if e, ok := fromConfigError(err, http.StatusBadRequest); ok {
		return e
	}
	switch {
	case errors.Is(err, canary.ErrNotFound):
		return &apiError{status: http.StatusNotFound, msg: err.Error()}
	case errors.Is(err, canary.ErrConflict), errors.Is(err, canary.ErrTransition):
		return &apiError{status: http.StatusConflict, msg: err.Error()}
	case errors.Is(err, canary.ErrBlocked):
		return &apiError{status: http.StatusPreconditionFailed, msg: err.Error()}
	}
	return internal("canary action", err)
}
