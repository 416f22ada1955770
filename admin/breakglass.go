package admin

import (
	"log/slog"
	"net/http"
)

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
