package middleware

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/coarse"
)

type server struct {
	resolver      baldur.Resolver
	keyed         baldur.KeyedResolver // resolver, when it resolves per key
	next          http.Handler
	operation     func(*http.Request) string
	key           KeyFunc
	trusted       TrustedProxies
	service       string
	domain        string
	region        string
	latency       bool
	rules         []TierRule
	defaultTier   baldur.Tier
	tierHeader    string
	ietfHeaders   bool
	legacyHeaders bool
	clock         baldur.Clock // nil: coarse.Now, or time.Now when latency is measured
	defaultKey    bool         // key is the client IP of trusted
	memos         *quotaMemos  // the RateLimit values of recent quota tokens; nil unless the IETF fields are written alone
}

// New returns HTTP server middleware that guards every request with the
// policy r resolves for its operation. Rejected requests are answered with
// the status, Retry-After, X-Baldur-Gate, X-Baldur-Reason and a JSON body
// {"code":..,"gate":..,"retry_after_s":..}; admitted requests run next and
// report their outcome: 5xx and panics are failures (the panic is re-raised
// after release), 4xx and client cancellations are ignored, the rest succeed.
// The handler's writer implements http.Flusher, and http.Hijacker and
// io.ReaderFrom when the server's writer does; a hijacked request holds its
// permits until the handler returns.
//
// The middleware is safe for concurrent use; the handler it returns may be
// shared by every request.
func New(r baldur.Resolver, opts ...Option) func(http.Handler) http.Handler {
	cfg := server{resolver: r, ietfHeaders: true}
	cfg.keyed, _ = r.(baldur.KeyedResolver)
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.operation == nil {
		cfg.operation = func(r *http.Request) string { return r.Pattern }
	}
	if cfg.key == nil {
		cfg.key, cfg.defaultKey = cfg.trusted.ClientIP, true
	}
	if cfg.tierHeader != "" {
		cfg.tierHeader = http.CanonicalHeaderKey(cfg.tierHeader)
	}
	return func(next http.Handler) http.Handler {
		s := cfg
		s.next = next
		if s.ietfHeaders && !s.legacyHeaders {
			s.memos = newQuotaMemos()
		}
		return &s
	}
}

// now is the one clock reading of a request (and, with WithLatency, the
// second one at its end): the clock of WithClock, else the process's coarse
// clock (a tick of 1 ms is all the gates need, see internal/coarse), or the
// system clock when latency is measured.
func (s *server) now() time.Time {
	switch {
	case s.clock != nil:
		return s.clock.Now()
	case s.latency:
		return time.Now()
	}
	return coarse.Now()
}

func (s *server) tier(r *http.Request) baldur.Tier {
	if s.tierHeader != "" {
		if v := r.Header.Get(s.tierHeader); v != "" && s.trusted.FromTrusted(r) {
			if t, err := baldur.ParseTier(v); err == nil {
				return t
			}
		}
	}
	for i := range s.rules {
		if s.rules[i].match(r) {
			return s.rules[i].Tier
		}
	}
	return s.defaultTier
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := s.operation(r)
	key, p := s.resolve(op, r)
	if p == nil {
		s.next.ServeHTTP(w, r)
		return
	}
	ctx := r.Context()
	// Field by field, not a composite literal: the compiler builds a
	// literal in a temporary with 8-byte stores and copies it with 16-byte
	// loads, each of which stalls until the stores it spans are written.
	var call baldur.Call
	call.Operation, call.Service, call.Domain, call.Region, call.Key = op, s.service, s.domain, s.region, key
	call.Tier, call.Now = s.tier(r), s.now()
	if d, ok := ctx.Deadline(); ok {
		call.Deadline = d
	}
	var t baldur.Ticket
	if err := p.AdmitInto(ctx, &call, &t); err != nil {
		if rej, ok := err.(*baldur.Rejection); ok {
			s.reject(w, p, call.Tier, rej)
			return
		}
		// The request's context ended while a gate waited: the client is gone.
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if token, ok := t.QuotaToken(); ok {
		s.writeAdmitQuota(w.Header(), p, &t, call.Tier, token)
	}
	rw := getWriter(w)
	// The handler gets the wrapper with the optional interfaces w has, in a
	// pointer-shaped value: choosing it allocates nothing.
	var ww http.ResponseWriter = rw
	switch w.(type) {
	case hijackReaderFrom:
		ww = hijackReadFromWriter{rw}
	case http.Hijacker:
		ww = hijackWriter{rw}
	case io.ReaderFrom:
		ww = readFromWriter{rw}
	}
	defer func() {
		o := baldur.Outcome{Status: rw.status}
		if s.latency {
			o.Latency = s.now().Sub(call.Now)
		}
		if v := recover(); v != nil {
			o.Result = baldur.Failure
			if v == http.ErrAbortHandler {
				o.Result = baldur.Ignored
			}
			t.Release(o)
			putWriter(rw)
			panic(v)
		}
		o.Result = statusResult(rw.status)
		if o.Result == baldur.Success && ctx.Err() != nil {
			// The client went away: the handler's answer says nothing.
			o.Result = baldur.Ignored
		}
		t.Release(o)
		putWriter(rw)
	}()
	s.next.ServeHTTP(ww, r)
}

// statusWriter records the status the handler wrote. It is pooled so that a
// guarded request allocates nothing more than a bare one.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

var writers = sync.Pool{New: func() any { return new(statusWriter) }}

func getWriter(w http.ResponseWriter) *statusWriter {
	rw := writers.Get().(*statusWriter)
	rw.ResponseWriter, rw.status, rw.wroteHeader = w, http.StatusOK, false
	return rw
}

func putWriter(rw *statusWriter) {
	rw.ResponseWriter = nil
	writers.Put(rw)
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		// 1xx informational responses are not the final status.
		if code >= 200 {
			w.status, w.wroteHeader = code, true
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Flush forwards to the underlying writer when it can flush, so handlers
// that assert http.Flusher keep streaming.
func (w *statusWriter) Flush() {
	w.wroteHeader = true
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the underlying ResponseWriter, so http.ResponseController
// reaches Hijack, SetReadDeadline and friends.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// The wrapper a handler sees has Hijack and ReadFrom exactly when the
// writer it wraps has them, so that handlers asserting w.(http.Hijacker)
// (older websocket libraries) or reaching io.ReaderFrom (io.Copy and
// http.ServeContent, which net/http turns into sendfile) keep working,
// while an HTTP/2 writer, which cannot hijack, does not claim it can. Each
// variant is a struct of one pointer, so storing it in an interface does
// not allocate.
type (
	hijackWriter         struct{ *statusWriter }
	readFromWriter       struct{ *statusWriter }
	hijackReadFromWriter struct{ *statusWriter }
	hijackReaderFrom     interface {
		http.Hijacker
		io.ReaderFrom
	}
)

func (w hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.hijack() }
func (w readFromWriter) ReadFrom(src io.Reader) (int64, error)      { return w.readFrom(src) }
func (w hijackReadFromWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.hijack()
}
func (w hijackReadFromWriter) ReadFrom(src io.Reader) (int64, error) { return w.readFrom(src) }

// hijack hands the connection over. The request's permits stay held until
// the handler returns, and are released then, once, as for any request.
func (w *statusWriter) hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, b, err := w.ResponseWriter.(http.Hijacker).Hijack()
	if err == nil {
		w.wroteHeader = true // the status is now whatever the handler writes on the wire
	}
	return c, b, err
}

// readFrom passes src on as it is, so that the server sees a file as a file.
func (w *statusWriter) readFrom(src io.Reader) (int64, error) {
	w.wroteHeader = true // an implicit 200, as with Write
	return w.ResponseWriter.(io.ReaderFrom).ReadFrom(src)
}
