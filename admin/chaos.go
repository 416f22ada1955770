package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/baldur-go/baldur/chaos"
)

// Chaos is what the chaos endpoints need of a scheduler; *chaos.Scheduler
// has it. Implementations must be safe for concurrent use.
type Chaos interface {
	List() []chaos.Run
	Get(id string) (chaos.Run, error)
	Schedule(ctx context.Context, e chaos.Experiment) (chaos.Run, error)
	Approve(ctx context.Context, id string) (chaos.Run, error)
	Start(ctx context.Context, id string) (chaos.Run, error)
	Stop(ctx context.Context, id, reason string) (chaos.Run, error)
	KillAll(ctx context.Context, reason string) (int, error)
	Generate(ctx context.Context, id string) (chaos.Report, error)
}

// chaosRoutes registers the experiment endpoints: list and read (VIEWER),
// create, approve, start and stop (OPERATOR; a forced experiment needs
// ADMIN), kill-all (ADMIN, audited), and the report as JSON, Markdown,
// HTML or a PNG chart (VIEWER).
func (s *Server) chaosRoutes() {
	s.route("GET /chaos/experiments", AccessViewer, "", maxControlBody, s.chaosList)
	s.route("POST /chaos/experiments", AccessOperator, "chaos.create", maxControlBody, s.chaosCreate)
	s.route("GET /chaos/experiments/{id}", AccessViewer, "", maxControlBody, s.chaosGet)
	s.route("POST /chaos/experiments/{id}/approve", AccessOperator, "chaos.approve", maxControlBody, s.chaosAct("approve"))
	s.route("POST /chaos/experiments/{id}/start", AccessOperator, "chaos.start", maxControlBody, s.chaosAct("start"))
	s.route("POST /chaos/experiments/{id}/stop", AccessOperator, "chaos.stop", maxControlBody, s.chaosAct("stop"))
	s.route("POST /chaos/kill-all", AccessAdmin, "chaos.kill_all", maxControlBody, s.chaosKillAll)
	s.route("GET /chaos/experiments/{id}/report", AccessViewer, "", maxControlBody, s.chaosReport)
	s.route("GET /chaos/experiments/{id}/report/chart.png", AccessViewer, "", maxControlBody, s.chaosChart)
}

// rawAnswer is a 200 answer that is not JSON (a report page, a chart).
type rawAnswer struct {
	contentType string
	body        []byte
}

func (a rawAnswer) write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if a.contentType != "image/png" {
		h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(a.body)
}

// chaosRunView is one experiment as a list row: flat scalars.
type chaosRunView struct {
	ID         string    `json:"id"`
	State      string    `json:"state"`
	Fault      string    `json:"fault"`
	Rate       float64   `json:"rate"`
	Service    string    `json:"service,omitempty"`
	Policy     string    `json:"policy,omitempty"`
	Operation  string    `json:"operation,omitempty"`
	DryRun     bool      `json:"dry_run"`
	Scheduled  time.Time `json:"scheduled_at"`
	Started    time.Time `json:"started_at,omitzero"`
	Ended      time.Time `json:"ended_at,omitzero"`
	StopReason string    `json:"stop_reason,omitempty"`
	Owner      string    `json:"owner"`
}

func runView(r chaos.Run) chaosRunView {
	e := r.Experiment
	return chaosRunView{ID: e.ID, State: string(r.State), Fault: string(e.Fault.Kind), Rate: e.Rate,
		Service: e.Target.Service, Policy: e.Target.Policy, Operation: e.Target.Operation, DryRun: e.DryRun,
		Scheduled: r.ScheduledAt, Started: r.StartedAt, Ended: r.EndedAt, StopReason: r.StopReason, Owner: r.Owner}
}

func (s *Server) chaosScheduler() (Chaos, *apiError) {
	if s.cfg.Chaos == nil {
		return nil, &apiError{status: http.StatusNotFound, msg: "no chaos scheduler configured"}
	}
	return s.cfg.Chaos, nil
}

func chaosError(what string, err error) *apiError {
	if e, ok := fromConfigError(err, http.StatusBadRequest); ok {
		return e
	}
	switch {
	case errors.Is(err, chaos.ErrNotFound):
		return &apiError{status: http.StatusNotFound, msg: "no experiment with this id"}
	case errors.Is(err, chaos.ErrDisabled):
		return &apiError{status: http.StatusConflict, msg: "chaos experiments are disabled in the configuration"}
	case errors.Is(err, chaos.ErrBlocked):
		return &apiError{status: http.StatusConflict, msg: err.Error()}
	case errors.Is(err, chaos.ErrNotApproved):
		return &apiError{status: http.StatusConflict, msg: "the experiment awaits approval"}
	}
	return internal(what, err)
}

func (s *Server) chaosList(_ *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	c, e := s.chaosScheduler()
	if e != nil {
		return nil, nil, e
	}
	items := []chaosRunView{}
	for _, r := range c.List() {
		items = append(items, runView(r))
	}
	return struct {
		Items []chaosRunView `json:"items"`
	}{items}, nil, nil
}

func (s *Server) chaosGet(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	c, e := s.chaosScheduler()
	if e != nil {
		return nil, nil, e
	}
	run, err := c.Get(r.PathValue("id"))
	if err != nil {
		return nil, nil, chaosError("chaos get", err)
	}
	return run, nil, nil
}

// chaosCreateInput is an experiment with the reason for running it.
type chaosCreateInput struct {
	chaos.Experiment
	Reason string `json:"reason"`
}

func (in *chaosCreateInput) validate() *apiError { return checkText("reason", in.Reason, true, 512) }

func (s *Server) chaosCreate(r *http.Request, req *request) (any, []slog.Attr, *apiError) {
	c, e := s.chaosScheduler()
	if e != nil {
		return nil, nil, e
	}
	var in chaosCreateInput
	if e := decodeInput(r, &in); e != nil {
		return nil, nil, e
	}
	attrs := []slog.Attr{slog.String("id", in.ID), slog.String("fault", string(in.Fault.Kind)),
		slog.Float64("rate", in.Rate), slog.Bool("force", in.Force), slog.String("reason", in.Reason)}
	if in.Force && req.access < AccessAdmin {
		return nil, attrs, &apiError{status: http.StatusForbidden, msg: "force requires ADMIN: start the admin server unlocked"}
	}
	run, err := c.Schedule(r.Context(), in.Experiment)
	if err != nil {
		return nil, attrs, chaosError("chaos schedule", err)
	}
	return run, append(attrs, slog.String("state", string(run.State))), nil
}

type reasonInput struct {
	Reason string `json:"reason"`
}

func (in *reasonInput) validate() *apiError { return checkText("reason", in.Reason, true, 512) }

func (s *Server) chaosAct(action string) handlerFunc {
	return func(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
		c, e := s.chaosScheduler()
		if e != nil {
			return nil, nil, e
		}
		var in reasonInput
		if e := decodeInput(r, &in); e != nil {
			return nil, nil, e
		}
		id := r.PathValue("id")
		attrs := []slog.Attr{slog.String("id", id), slog.String("reason", in.Reason)}
		var run chaos.Run
		var err error
		switch action {
		case "approve":
			run, err = c.Approve(r.Context(), id)
		case "start":
			run, err = c.Start(r.Context(), id)
		default:
			run, err = c.Stop(r.Context(), id, in.Reason)
		}
		if err != nil {
			return nil, attrs, chaosError("chaos "+action, err)
		}
		return run, append(attrs, slog.String("state", string(run.State))), nil
	}
}

func (s *Server) chaosKillAll(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	c, e := s.chaosScheduler()
	if e != nil {
		return nil, nil, e
	}
	var in reasonInput
	if e := decodeInput(r, &in); e != nil {
		return nil, nil, e
	}
	n, err := c.KillAll(r.Context(), in.Reason)
	attrs := []slog.Attr{slog.String("reason", in.Reason), slog.Int("stopped", n)}
	if err != nil {
		return nil, attrs, internal("chaos kill-all", err)
	}
	return struct {
		Stopped int `json:"stopped"`
	}{n}, attrs, nil
}

func (s *Server) chaosReport(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	c, e := s.chaosScheduler()
	if e != nil {
		return nil, nil, e
	}
	id := r.PathValue("id")
	rep, err := c.Generate(r.Context(), id)
	if err != nil {
		return nil, nil, chaosError("chaos report", err)
	}
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		return rep, nil, nil
	case "md":
		return rawAnswer{"text/markdown; charset=utf-8", chaos.Markdown(rep)}, nil, nil
	case "html":
		page, err := chaos.HTML(rep, "report/chart.png")
		if err != nil {
			return nil, nil, internal("chaos report page", err)
		}
		return rawAnswer{"text/html; charset=utf-8", page}, nil, nil
	default:
		return nil, nil, badRequest("format", "format must be json, md or html")
	}
}

func (s *Server) chaosChart(r *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	c, e := s.chaosScheduler()
	if e != nil {
		return nil, nil, e
	}
	rep, err := c.Generate(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, nil, chaosError("chaos report", err)
	}
	img, err := chaos.Chart(rep)
	if err != nil {
		return nil, nil, internal("chaos chart", err)
	}
	return rawAnswer{"image/png", img}, nil, nil
}
