package admin

import (
	"context"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/baldur-go/baldur/watchdog"
)

// Watchdog is what the watchdog endpoints need; *watchdog.Runner has it.
// Implementations must be safe for concurrent use.
type Watchdog interface {
	Status() watchdog.Status
	Incidents(ctx context.Context) ([]watchdog.Incident, error)
	DryRunTick(ctx context.Context) (watchdog.Report, error)
	ReleaseBrake(ctx context.Context, check, actor, reason string) (bool, error)
}

// watchdogRoutes registers GET /watchdog/status (VIEWER: the checks with
// their role, brake and budget, and the open incidents), POST
// /watchdog/tick (OPERATOR, audited: a dry-run pass, which observes only)
// and POST /watchdog/brake/release (ADMIN, audited: release a check's
// remediation brake, with a reason).
func (s *Server) watchdogRoutes() {
	s.route("GET /watchdog/status", AccessViewer, "", maxControlBody, s.watchdogStatus)
	s.route("POST /watchdog/tick", AccessOperator, "watchdog.tick", maxControlBody, s.watchdogTick)
	s.route("POST /watchdog/brake/release", AccessAdmin, "watchdog.brake.release", maxControlBody, s.watchdogRelease)
}

func (s *Server) watchdog() (Watchdog, *apiError) {
	if s.cfg.Watchdog == nil {
		return nil, &apiError{status: http.StatusNotFound, msg: "no watchdog configured"}
	}
	return s.cfg.Watchdog, nil
}

type wdCheckView struct {
	Name              string     `json:"name"`
	Role              string     `json:"role"`
	Token             uint64     `json:"token,omitempty"`
	Brake             bool       `json:"brake"`
	BrakeSince        *time.Time `json:"brake_since,omitempty"`
	ActionsLastHour   int        `json:"actions_last_hour"`
	MaxActionsPerHour int        `json:"max_actions_per_hour"`
	Observed          int        `json:"observed"`
	OpenIncidents     int        `json:"open_incidents"`
	LastError         string     `json:"last_error,omitempty"`
}

type wdIncidentView struct {
	Check    string    `json:"check"`
	Subject  string    `json:"subject"`
	Brake    bool      `json:"brake"`
	Title    string    `json:"title"`
	Priority string    `json:"priority"`
	OpenedAt time.Time `json:"opened_at"`
	Session  string    `json:"session,omitempty"`
}

func (s *Server) watchdogStatus(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	wd, e := s.watchdog()
	if e != nil {
		return nil, nil, e
	}
	st := wd.Status()
	checks := make([]wdCheckView, len(st.Checks))
	for i, c := range st.Checks {
		checks[i] = wdCheckView{Name: c.Name, Role: string(c.Role), Token: c.Token, Brake: c.Brake, ActionsLastHour: c.ActionsLastHour,
			MaxActionsPerHour: c.MaxActionsPerHour, Observed: c.Observed, OpenIncidents: c.OpenIncidents, LastError: c.LastError}
		if c.Brake && !c.BrakeSince.IsZero() {
			since := c.BrakeSince
			checks[i].BrakeSince = &since
		}
	}
	body := map[string]any{"running": st.Running, "interval": st.Interval.String(), "passes": st.Passes,
		"last_error": st.LastError, "dry_run": st.DryRun, "session": st.Session, "checks": checks}
	if !st.LastPass.IsZero() {
		body["last_pass"] = st.LastPass
	}
	incs, err := wd.Incidents(r.Context())
	if err != nil {
		// The status stays useful without the store: say so instead.
		body["incidents_error"] = "incident store failed; see the server log"
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "admin: watchdog incidents", slog.String("error", err.Error()))
	}
	views := make([]wdIncidentView, len(incs))
	for i, inc := range incs {
		views[i] = wdIncidentView{Check: inc.Check, Subject: inc.Subject, Brake: inc.Brake(), Title: inc.Title,
			Priority: inc.Priority.String(), OpenedAt: inc.OpenedAt, Session: inc.Session}
	}
	sort.Slice(views, func(i, j int) bool {
		if views[i].Check != views[j].Check {
			return views[i].Check < views[j].Check
		}
		return views[i].Subject < views[j].Subject
	})
	body["incidents"] = views
	return body, nil, nil
}

type wdTickRequest struct {
	Reason string `json:"reason"`
}

func (in *wdTickRequest) validate() *apiError { return checkText("reason", in.Reason, false, 512) }

type wdFindingView struct {
	Check   string `json:"check"`
	Kind    string `json:"kind"`
	Subject string `json:"subject"`
	Action  string `json:"action,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// watchdogTick runs a dry-run pass and answers its report: what a pass
// would act on and page, and why it would hold back.
func (s *Server) watchdogTick(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	wd, e := s.watchdog()
	if e != nil {
		return nil, nil, e
	}
	var in wdTickRequest
	if e := decodeInput(r, &in); e != nil {
		return nil, nil, e
	}
	rep, err := wd.DryRunTick(r.Context())
	attrs := []slog.Attr{slog.String("reason", in.Reason), slog.Int("findings", len(rep.Findings))}
	items := make([]wdFindingView, len(rep.Findings))
	for i, f := range rep.Findings {
		items[i] = wdFindingView{Check: f.Check, Kind: f.Kind, Subject: f.Subject, Action: f.Action, Detail: f.Detail}
	}
	body := map[string]any{"at": rep.At, "dry_run": true, "duration_ms": rep.Duration.Milliseconds(), "items": items}
	if err != nil {
		body["error"] = err.Error() // the pass deadline: the report says which checks it cut off
	}
	return body, attrs, nil
}

type wdReleaseRequest struct {
	Check  string `json:"check"`
	Reason string `json:"reason"`
}

func (in *wdReleaseRequest) validate() *apiError {
	if e := checkText("check", in.Check, true, 64); e != nil {
		return e
	}
	return checkText("reason", in.Reason, true, 512)
}

func (s *Server) watchdogRelease(r *http.Request, req *request) (any, []slog.Attr, *apiError) {
	wd, e := s.watchdog()
	if e != nil {
		return nil, nil, e
	}
	var in wdReleaseRequest
	e = decodeInput(r, &in)
	attrs := []slog.Attr{slog.String("check", truncate(in.Check)), slog.String("reason", truncate(in.Reason))}
	if e != nil {
		return nil, attrs, e
	}
	known := false
	for _, c := range wd.Status().Checks {
		known = known || c.Name == in.Check
	}
	if !known {
		return nil, attrs, &apiError{status: http.StatusNotFound, msg: "no watchdog check named " + in.Check, field: "check"}
	}
	released, err := wd.ReleaseBrake(r.Context(), in.Check, req.actor, in.Reason)
	if err != nil {
		return nil, attrs, internal("watchdog brake release", err)
	}
	attrs = append(attrs, slog.Bool("released", released))
	if !released {
		return nil, attrs, &apiError{status: http.StatusConflict, msg: "the brake of " + in.Check + " is not engaged"}
	}
	return map[string]any{"check": in.Check, "released": true}, attrs, nil
}
