package admin

import (
	"log/slog"
	"net/http"
	"time"

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
