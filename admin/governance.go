package admin

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/governance"
	"github.com/baldur-go/baldur/registry"
)

var errNoChecker = &apiError{status: http.StatusNotFound, msg: "requires a governance checker"}

// checker returns the kill switches and break glass of the registry's
// governance checker; the NoOp default (or another checker without a
// governance.Switchboard) has none to throw.
func (s *Server) checker() (governance.Switchboard, *apiError) {
	if c, ok := s.cfg.Registry.Governance.Get().(governance.Switchboard); ok && c != nil {
		return c, nil
	}
	return nil, errNoChecker
}

// internal answers an error the caller cannot fix (a store failing). The
// detail goes to the log, not to the client.
func internal(what string) *apiError {
	return &apiError{status: http.StatusInternalServerError, msg: what + " failed; see the server log"}
}

type killSwitchView struct {
	Scope     string     `json:"scope"`
	Pattern   string     `json:"pattern"`
	Reason    string     `json:"reason"`
	Actor     string     `json:"actor"`
	Since     time.Time  `json:"since"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func viewKillSwitch(ks governance.KillSwitch) killSwitchView {
	return killSwitchView{Scope: ks.Scope.String(), Pattern: ks.Pattern, Reason: ks.Reason, Actor: ks.Actor,
		Since: ks.Since, ExpiresAt: timeOrNil(ks.ExpiresAt)}
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

type killSwitchRequest struct {
	Scope     string            `json:"scope"`
	Pattern   string            `json:"pattern"`
	Reason    string            `json:"reason"`
	ExpiresIn registry.Duration `json:"expires_in"`
}

// activate throws a kill switch: POST /killswitch.
func (s *Server) activate(w http.ResponseWriter, r *http.Request, req *request) {
	ctx := r.Context()
	var in killSwitchRequest
	e := decode(r, &in)
	scope, err := governance.ParseScope(in.Scope)
	if e == nil && err != nil {
		e = badRequest("scope", "scope must be all, service or operation")
	}
	if e == nil {
		e = checkText("reason", in.Reason, true, maxReasonLen)
	}
	if e == nil {
		e = checkDuration("expires_in", in.ExpiresIn)
	}
	if e == nil && scope != governance.ScopeAll {
		if err := governance.ValidatePattern(in.Pattern); err != nil {
			e = badRequest("pattern", err.Error())
		}
	}
	attrs := []slog.Attr{slog.String("scope", in.Scope), slog.String("pattern", truncate(in.Pattern)), slog.String("reason", truncate(in.Reason)),
		slog.Duration("expires_in", in.ExpiresIn.D())}
	if e != nil {
		s.done(ctx, w, req, nil, e, attrs...)
		return
	}
	c, e := s.checker()
	if e != nil {
		s.done(ctx, w, req, nil, e, attrs...)
		return
	}
	ks := governance.KillSwitch{Scope: scope, Pattern: in.Pattern, Reason: in.Reason, Actor: req.actor}
	if in.ExpiresIn > 0 {
		ks.ExpiresAt = s.clock.Now().Add(in.ExpiresIn.D())
	}
	if err := c.Activate(ctx, ks); err != nil {
		e, ok := fromConfigError(err, http.StatusBadRequest)
		if !ok {
			e = internal("activating the kill switch")
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		s.done(ctx, w, req, nil, e, attrs...)
		return
	}
	ks.Since = s.clock.Now()
	s.done(ctx, w, req, viewKillSwitch(ks), nil, attrs...)
}

type killSwitchKey struct {
	Scope   string `json:"scope"`
	Pattern string `json:"pattern"`
}

// deactivate lifts a kill switch: DELETE /killswitch.
func (s *Server) deactivate(w http.ResponseWriter, r *http.Request, req *request) {
	ctx := r.Context()
	var in killSwitchKey
	e := decode(r, &in)
	scope, err := governance.ParseScope(in.Scope)
	if e == nil && err != nil {
		e = badRequest("scope", "scope must be all, service or operation")
	}
	if e == nil && len(in.Pattern) > governance.MaxPatternLen {
		e = badRequest("pattern", "pattern too long")
	}
	attrs := []slog.Attr{slog.String("scope", in.Scope), slog.String("pattern", truncate(in.Pattern))}
	if e != nil {
		s.done(ctx, w, req, nil, e, attrs...)
		return
	}
	c, e := s.checker()
	if e != nil {
		s.done(ctx, w, req, nil, e, attrs...)
		return
	}
	removed, err := c.Deactivate(ctx, scope, in.Pattern)
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
		s.done(ctx, w, req, nil, internal("deactivating the kill switch"), attrs...)
		return
	}
	attrs = append(attrs, slog.Bool("removed", removed))
	s.done(ctx, w, req, struct {
		Removed bool `json:"removed"`
	}{removed}, nil, attrs...)
}

type emergencyView struct {
	Level     string     `json:"level"`
	LevelNum  int        `json:"level_num"`
	Reason    string     `json:"reason,omitempty"`
	Actor     string     `json:"actor,omitempty"`
	Since     *time.Time `json:"since,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Auto      bool       `json:"auto"`
}

func viewEmergency(st baldur.EmergencyState) emergencyView {
	return emergencyView{Level: st.Level.String(), LevelNum: int(st.Level), Reason: st.Reason, Actor: st.Actor,
		Since: timeOrNil(st.Since), ExpiresAt: timeOrNil(st.ExpiresAt), Auto: st.Auto}
}

var errNoEmergency = &apiError{status: http.StatusNotFound, msg: "requires a governance checker (the emergency manager slot is unset)"}

type triggerRequest struct {
	Level    *level            `json:"level"`
	Reason   string            `json:"reason"`
	Duration registry.Duration `json:"duration"`
}

// trigger raises the emergency level: POST /emergency/trigger. Lowering by
// trigger is refused (409): step down one level at a time.
func (s *Server) trigger(w http.ResponseWriter, r *http.Request, req *request) {
	ctx := r.Context()
	var in triggerRequest
	e := decode(r, &in)
	if e == nil && in.Level == nil {
		e = badRequest("level", "level is required")
	}
	if e == nil {
		e = checkText("reason", in.Reason, true, maxReasonLen)
	}
	if e == nil {
		e = checkDuration("duration", in.Duration)
	}
	lvl := baldur.LevelUnknown
	if in.Level != nil {
		lvl = baldur.EmergencyLevel(*in.Level)
	}
	attrs := []slog.Attr{slog.String("level", lvl.String()), slog.String("reason", truncate(in.Reason)), slog.Duration("duration", in.Duration.D())}
	if e != nil {
		s.done(ctx, w, req, nil, e, attrs...)
		return
	}
	em, ok := s.cfg.Registry.Emergency.SafeGet()
	if !ok || em == nil {
		s.done(ctx, w, req, nil, errNoEmergency, attrs...)
		return
	}
	st, err := em.Trigger(ctx, baldur.EmergencyTrigger{Level: lvl, Reason: in.Reason, Actor: req.actor, Duration: in.Duration.D()})
	if err != nil {
		// The input was validated above: what the manager still refuses is
		// the transition itself (a level below the current one).
		e, ok := fromConfigError(err, http.StatusConflict)
		if !ok {
			e = internal("triggering the emergency level")
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		s.done(ctx, w, req, nil, e, attrs...)
		return
	}
	s.done(ctx, w, req, viewEmergency(st), nil, attrs...)
}

type stepDownRequest struct {
	Reason string `json:"reason"`
}

// stepDown lowers the emergency level by one: POST /emergency/stepdown.
// At NORMAL it is refused (409). A timed level keeps its end; the answer
// says so in "note".
func (s *Server) stepDown(w http.ResponseWriter, r *http.Request, req *request) {
	ctx := r.Context()
	var in stepDownRequest
	e := decode(r, &in)
	if e == nil {
		e = checkText("reason", in.Reason, true, maxReasonLen)
	}
	attrs := []slog.Attr{slog.String("reason", truncate(in.Reason))}
	if e != nil {
		s.done(ctx, w, req, nil, e, attrs...)
		return
	}
	em, ok := s.cfg.Registry.Emergency.SafeGet()
	if !ok || em == nil {
		s.done(ctx, w, req, nil, errNoEmergency, attrs...)
		return
	}
	st, err := em.StepDown(ctx, req.actor, in.Reason)
	if err != nil {
		var e *apiError
		switch ce, isCfg := fromConfigError(err, http.StatusConflict); {
		case errors.Is(err, governance.ErrAlreadyNormal):
			e = &apiError{status: http.StatusConflict, msg: "emergency level already NORMAL"}
		case isCfg:
			e = ce
		default:
			e = internal("stepping the emergency level down")
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		s.done(ctx, w, req, nil, e, attrs...)
		return
	}
	out := stepDownView{emergencyView: viewEmergency(st)}
	if !st.ExpiresAt.IsZero() {
		out.Note = "the remaining duration carries over: NORMAL at " + st.ExpiresAt.UTC().Format(time.RFC3339)
	}
	s.done(ctx, w, req, out, nil, attrs...)
}

// stepDownView is the state after a step down; Note says when a timed
// level's end carried over to the lower level.
type stepDownView struct {
	emergencyView
	Note string `json:"note,omitempty"`
}

type breakGlassRequest struct {
	On     *bool  `json:"on"`
	Reason string `json:"reason"`
}

// breakGlass turns break glass on or off: POST /breakglass. While on,
// governance allows everything (audited).
func (s *Server) breakGlass(w http.ResponseWriter, r *http.Request, req *request) {
	ctx := r.Context()
	var in breakGlassRequest
	e := decode(r, &in)
	if e == nil && in.On == nil {
		e = badRequest("on", "on is required (true or false)")
	}
	on := in.On != nil && *in.On
	if e == nil {
		e = checkText("reason", in.Reason, on, maxReasonLen)
	}
	attrs := []slog.Attr{slog.Bool("on", on), slog.String("reason", truncate(in.Reason))}
	if e != nil {
		s.done(ctx, w, req, nil, e, attrs...)
		return
	}
	c, e := s.checker()
	if e != nil {
		s.done(ctx, w, req, nil, e, attrs...)
		return
	}
	if err := c.BreakGlass(ctx, on, req.actor, in.Reason); err != nil {
		e, ok := fromConfigError(err, http.StatusBadRequest)
		if !ok {
			e = internal("setting break glass")
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		s.done(ctx, w, req, nil, e, attrs...)
		return
	}
	s.done(ctx, w, req, struct {
		On bool `json:"on"`
	}{on}, nil, attrs...)
}
