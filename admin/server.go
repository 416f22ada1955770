package admin

import (
	"context"
	"log/slog"
	"mime"
	"net/http"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/trust"
)

// Body limits: control requests are a few fields; a configuration document
// may be as large as the registry accepts from a file.
const (
	maxControlBody = 64 << 10
	maxConfigBody  = 4 << 20
)

// Server is the admin control plane, an http.Handler. It is immutable after
// New and safe for concurrent use; every request resolves the registry's
// slots afresh, so a reload that rebuilds the governance checker is
// operated on at once.
type Server struct {
	cfg     Config
	keys    keys
	proxies trust.List
	clock   baldur.Clock
	log     *slog.Logger
	mux     *http.ServeMux
	origin  *http.CrossOriginProtection
	limit   *limiter
	ring    auditRing
	rejects rejectionSampler
}

// New validates cfg and returns the admin server. An invalid field is a
// *baldur.ConfigError naming it; key values never appear in errors.
func New(cfg Config) (*Server, error) {
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, keys: newKeys(cfg.OperatorKey, cfg.ViewerKey), proxies: trust.New(cfg.TrustedProxies),
		clock: cfg.Clock, log: cfg.Logger, mux: http.NewServeMux(), origin: http.NewCrossOriginProtection()}
	s.cfg.TrustedProxies = nil // s.proxies is the server's own copy
	if s.clock == nil {
		s.clock = baldur.SystemClock()
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.cfg.OperatorKey, s.cfg.ViewerKey = "", "" // only the digests are kept
	s.limit = newLimiter(cfg.RateLimit, s.clock.Now())
	s.route("GET /status", AccessViewer, "", maxControlBody, s.status)
	s.route("GET /fleet", AccessViewer, "", maxControlBody, s.fleet)
	s.idempotencyRoutes()
	s.notificationsRoutes()
	s.watchdogRoutes()
	s.dlqRoutes()
	s.canaryRoutes()
	s.chaosRoutes()
	s.route("POST /killswitch", AccessOperator, "killswitch.activate", maxControlBody, s.activate)
	s.route("DELETE /killswitch", AccessOperator, "killswitch.deactivate", maxControlBody, s.deactivate)
	s.route("POST /emergency/trigger", AccessOperator, "emergency.trigger", maxControlBody, s.trigger)
	s.route("POST /emergency/stepdown", AccessOperator, "emergency.stepdown", maxControlBody, s.stepDown)
	s.route("POST /breakglass", AccessAdmin, "breakglass", maxControlBody, s.breakGlass)
	s.route("POST /breakers/force", AccessAdmin, "breakers.force", maxControlBody, s.forceBreaker)
	s.route("POST /reload", AccessAdmin, "reload", maxConfigBody, s.reload)
	s.consoleRoutes()
	return s, nil
}

// ServeHTTP implements http.Handler. Every answer forbids framing and
// carries a Content-Security-Policy (the console's pages their own); the
// rate limit is checked before anything else.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", apiCSP)
	h.Set("Referrer-Policy", "no-referrer")
	if s.rateLimited(w, r) {
		return
	}
	s.mux.ServeHTTP(w, r)
}

// request is what a handler knows about its caller.
type request struct {
	action string // empty for reads
	actor  string
	access Access
}

// handlerFunc answers a request: the body of a 200 answer, or the error
// answer, and for a write the attributes of its audit record (never a key
// or a raw identity header). The route writes the answer and the record.
type handlerFunc func(r *http.Request, req *request) (body any, attrs []slog.Attr, e *apiError)

// route registers h behind the origin and access checks. A cross-origin
// browser request is refused first (http.CrossOriginProtection: by
// Sec-Fetch-Site, else by comparing Origin with Host), then the level is
// checked, then a write's Content-Type must be application/json, all before
// the body is read, so a caller without access learns nothing from
// validation errors. Requiring JSON keeps out the requests a page can send
// without a CORS preflight (text/plain, forms).
func (s *Server) route(pattern string, need Access, action string, maxBody int64, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		req := &request{action: action, actor: s.actor(r)}
		refuse := func(status int, access Access, msg string) {
			s.log.LogAttrs(r.Context(), slog.LevelWarn, "admin: refused",
				slog.String("actor", req.actor), slog.String("route", pattern),
				slog.String("access", access.String()), slog.String("need", need.String()),
				slog.String("why", msg))
			writeError(w, &apiError{status: status, msg: msg})
		}
		if err := s.origin.Check(r); err != nil {
			refuse(http.StatusForbidden, AccessPublic, "cross-origin request refused")
			return
		}
		var badKey bool
		req.access, badKey = s.access(r)
		if req.access < need {
			msg := "requires " + need.String()
			if badKey {
				msg = "invalid admin key"
			} else if need == AccessAdmin && req.access == AccessOperator {
				msg = "requires ADMIN: start the admin server unlocked for destructive actions"
			}
			refuse(http.StatusForbidden, req.access, msg)
			return
		}
		if action != "" && !jsonContent(r.Header.Get("Content-Type")) {
			refuse(http.StatusUnsupportedMediaType, req.access, "Content-Type must be application/json")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		body, attrs, e := h(r, req)
		if action != "" {
			s.audit(r.Context(), req, e, attrs)
		}
		if e != nil {
			writeError(w, e)
			return
		}
		if raw, ok := body.(rawAnswer); ok {
			raw.write(w)
			return
		}
		writeJSON(w, http.StatusOK, body)
	})
}

// jsonContent reports whether a Content-Type is application/json, with or
// without parameters.
func jsonContent(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// audit logs the outcome of a write with its actor and action, then attrs,
// then the error behind a failure the client cannot fix (e.cause).
func (s *Server) audit(ctx context.Context, req *request, e *apiError, attrs []slog.Attr) {
	level, outcome := slog.LevelInfo, "ok"
	if e != nil {
		level, outcome = slog.LevelWarn, e.msg
	}
	all := make([]slog.Attr, 0, len(attrs)+5)
	all = append(all, slog.String("actor", req.actor), slog.String("action", req.action),
		slog.String("access", req.access.String()), slog.String("outcome", outcome))
	all = append(all, attrs...)
	if e != nil && e.cause != nil {
		all = append(all, slog.String("error", e.cause.Error()))
	}
	s.log.LogAttrs(ctx, level, "admin: write", all...)
	s.ring.add(auditEntry{time: s.clock.Now(), actor: req.actor, action: req.action, access: req.access.String(),
		outcome: truncate(outcome), attrs: attrs})
}
