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

// checker returns the registry's governance.Checker; the NoOp default (or
// another implementation) has no switches to throw.
func (s *Server) checker() (*governance.Checker, *apiError) {
	if c, ok := s.cfg.Registry.Governance.Get().(*governance.Checker); ok && c != nil {
		return c, nil
	}
	return nil, errNoChecker
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

	scope governance.Scope // Scope, parsed by validate
}

func (in *killSwitchRequest) validate() *apiError {
	var err error
	if in.scope, err = governance.ParseScope(in.Scope); err != nil {
		return errScope
	}
	if e := checkText("reason", in.Reason, true, maxReasonLen); e != nil {
		return e
	}
	if e := checkDuration("expires_in", in.ExpiresIn); e != nil {
		return e
	}
	if in.scope != governance.ScopeAll {
		if err := governance.ValidatePattern(in.Pattern); err != nil {
			return badRequest("pattern", err.Error())
		}
	}
	return nil
}

var errScope = badRequest("scope", "scope must be all, service or operation")

// activate throws a kill switch: POST /killswitch.
func (s *Server) activate(r *http.Request, req *request) (any, []slog.Attr, *apiError) {
	var in killSwitchRequest
	e := decodeInput(r, &in)
	attrs := []slog.Attr{slog.String("scope", in.Scope), slog.String("pattern", truncate(in.Pattern)), slog.String("reason", truncate(in.Reason)),
		slog.Duration("expires_in", in.ExpiresIn.D())}
	if e != nil {
		return nil, attrs, e
	}
	c, e := s.checker()
	if e != nil {
		return nil, attrs, e
	}
	ks := governance.KillSwitch{Scope: in.scope, Pattern: in.Pattern, Reason: in.Reason, Actor: req.actor}
	if in.ExpiresIn > 0 {
		ks.ExpiresAt = s.clock.Now().Add(in.ExpiresIn.D())
	}
	if err := c.Activate(r.Context(), ks); err != nil {
		return nil, attrs, refused(err, http.StatusBadRequest, "activating the kill switch")
	}
	ks.Since = s.clock.Now()
	return viewKillSwitch(ks), attrs, nil
}

// refused answers an error of a governance call: a *baldur.ConfigError
// (the call refused its input or the transition) with status, naming its
// field; anything else is a failure the client cannot fix.
func refused(err error, status int, what string) *apiError {
	if e, ok := fromConfigError(err, status); ok {
		return e
	}
	return internal(what, err)
}

type killSwitchKey struct {
	Scope   string `json:"scope"`
	Pattern string `json:"pattern"`

	scope governance.Scope // Scope, parsed by validate
}

func (in *killSwitchKey) validate() *apiError {
	var err error
	if in.scope, err = governance.ParseScope(in.Scope); err != nil {
		return errScope
	}
	if len(in.Pattern) > governance.MaxPatternLen {
		return badRequest("pattern", "pattern too long")
	}
	return nil
}

// deactivate lifts a kill switch: DELETE /killswitch.
func (s *Server) deactivate(r *http.Request, req *request) (any, []slog.Attr, *apiError) {
	var in killSwitchKey
	e := decodeInput(r, &in)
	attrs := []slog.Attr{slog.String("scope", in.Scope), slog.String("pattern", truncate(in.Pattern))}
	if e != nil {
		return nil, attrs, e
	}
	c, e := s.checker()
	if e != nil {
		return nil, attrs, e
	}
	removed, err := c.Deactivate(r.Context(), in.scope, in.Pattern)
	if err != nil {
		return nil, attrs, internal("deactivating the kill switch", err)
	}
	return struct {
		Removed bool `json:"removed"`
	}{removed}, append(attrs, slog.Bool("removed", removed)), nil
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

func (in *triggerRequest) validate() *apiError {
	if in.Level == nil {
		return badRequest("level", "level is required")
	}
	if e := checkText("reason", in.Reason, true, maxReasonLen); e != nil {
		return e
	}
	return checkDuration("duration", in.Duration)
}

// emergency returns the registry's emergency manager.
func (s *Server) emergency() (baldur.EmergencyManager, *apiError) {
	if em, ok := s.cfg.Registry.Emergency.SafeGet(); ok && em != nil {
		return em, nil
	}
	return nil, errNoEmergency
}

// trigger raises the emergency level: POST /emergency/trigger. Lowering by
// trigger is refused (409): step down one level at a time.
func (s *Server) trigger(r *http.Request, req *request) (any, []slog.Attr, *apiError) {
	var in triggerRequest
	e := decodeInput(r, &in)
	lvl := baldur.LevelUnknown
	if in.Level != nil {
		lvl = baldur.EmergencyLevel(*in.Level)
	}
	attrs := []slog.Attr{slog.String("level", lvl.String()), slog.String("reason", truncate(in.Reason)), slog.Duration("duration", in.Duration.D())}
	if e != nil {
		return nil, attrs, e
	}
	em, e := s.emergency()
	if e != nil {
		return nil, attrs, e
	}
	st, err := em.Trigger(r.Context(), baldur.EmergencyTrigger{Level: lvl, Reason: in.Reason, Actor: req.actor, Duration: in.Duration.D()})
	if err != nil {
		// The input was validated above: what the manager still refuses is
		// the transition itself (a level below the current one).
		return nil, attrs, refused(err, http.StatusConflict, "triggering the emergency level")
	}
	return viewEmergency(st), attrs, nil
}

type stepDownRequest struct {
	Reason string `json:"reason"`
}

func (in *stepDownRequest) validate() *apiError {
	return checkText("reason", in.Reason, true, maxReasonLen)
}

var errAlreadyNormal = &apiError{status: http.StatusConflict, msg: "emergency level already NORMAL"}

// stepDown lowers the emergency level by one: POST /emergency/stepdown.
// At NORMAL it is refused (409). A timed level keeps its end; the answer
// says so in "note".
func (s *Server) stepDown(r *http.Request, req *request) (any, []slog.Attr, *apiError) {
	var in stepDownRequest
	e := decodeInput(r, &in)
	attrs := []slog.Attr{slog.String("reason", truncate(in.Reason))}
	if e != nil {
		return nil, attrs, e
	}
	em, e := s.emergency()
	if e != nil {
		return nil, attrs, e
	}
	st, err := em.StepDown(r.Context(), req.actor, in.Reason)
	if errors.Is(err, governance.ErrAlreadyNormal) {
		return nil, attrs, errAlreadyNormal
	}
	if err != nil {
		return nil, attrs, refused(err, http.StatusConflict, "stepping the emergency level down")
	}
	out := stepDownView{emergencyView: viewEmergency(st)}
	if !st.ExpiresAt.IsZero() {
		out.Note = "the remaining duration carries over: NORMAL at " + st.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return out, attrs, nil
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

// on is the state asked for; false when absent (validate refuses that).
func (in *breakGlassRequest) on() bool { return in.On != nil && *in.On }

func (in *breakGlassRequest) validate() *apiError {
	if in.On == nil {
		return badRequest("on", "on is required (true or false)")
	}
	return checkText("reason", in.Reason, in.on(), maxReasonLen)
}

// breakGlass turns break glass on or off: POST /breakglass. While on,
// governance allows everything (audited).
func (s *Server) breakGlass(r *http.Request, req *request) (any, []slog.Attr, *apiError) {
	var in breakGlassRequest
	e := decodeInput(r, &in)
	on := in.on()
	attrs := []slog.Attr{slog.Bool("on", on), slog.String("reason", truncate(in.Reason))}
	if e != nil {
		return nil, attrs, e
	}
	c, e := s.checker()
	if e != nil {
		return nil, attrs, e
	}
	if err := c.BreakGlass(r.Context(), on, req.actor, in.Reason); err != nil {
		return nil, attrs, refused(err, http.StatusBadRequest, "setting break glass")
	}
	return struct {
		On bool `json:"on"`
	}{on}, attrs, nil
}
