package admin

import (
	"embed"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
)

// The console's files: plain HTML, CSS and one script, embedded so that the
// console works air-gapped and has no build step.
//
//go:embed console
var consoleFiles embed.FS

// apiCSP is the policy of every JSON answer: nothing may load, nothing may
// frame it.
const apiCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// consoleCSP is the console's policy: its own script, style, images and
// API only (no inline script or style, no eval, no other origin), images
// also from blob: URLs (a chaos report's chart, fetched with the key).
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; " +
	"connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// consoleRoutes registers the browser console and the read endpoints it
// draws from beyond the API's own: GET /console (the page, PUBLIC: it
// holds no data, and a browser cannot send the key header on a
// navigation), GET /console/assets/{file}, GET /access (PUBLIC: the
// caller's level), and for VIEWER GET /audit, /policies, /budget and
// /rejections.
func (s *Server) consoleRoutes() {
	s.mux.HandleFunc("GET /console", s.consoleFile("index.html"))
	s.mux.HandleFunc("GET /console/assets/{file}", func(w http.ResponseWriter, r *http.Request) {
		s.consoleFile(r.PathValue("file"))(w, r)
	})
	s.route("GET /access", AccessPublic, "", maxControlBody, s.accessLevel)
	s.route("GET /audit", AccessViewer, "", maxControlBody, s.auditList)
	s.route("GET /policies", AccessViewer, "", maxControlBody, s.policies)
	s.route("GET /budget", AccessViewer, "", maxControlBody, s.budget)
	s.route("GET /rejections", AccessViewer, "", maxControlBody, s.rejections)
}

// consoleFile serves one embedded file with the console's policy.
func (s *Server) consoleFile(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(consoleFiles, "console/"+path.Base(name))
		if err != nil || path.Base(name) != name {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", consoleCSP)
		h.Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		_, _ = w.Write(b)
	}
}

type accessView struct {
	Access string `json:"access"`
	Actor  string `json:"actor"`
	// InvalidKey is true when the request presented a key that matched
	// nothing.
	InvalidKey bool `json:"invalid_key,omitempty"`
}

// accessLevel answers GET /access: the caller's level and actor, so the
// console shows only the actions the API would accept.
func (s *Server) accessLevel(r *http.Request, req *request) (any, []slog.Attr, *apiError) {
	_, bad := s.access(r)
	return accessView{Access: req.access.String(), Actor: req.actor, InvalidKey: bad}, nil, nil
}
