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
