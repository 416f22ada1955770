package idempotency

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/baldur-go/baldur"
)

// HeaderKey is the request field that carries the key; HeaderReplayed marks
// a replayed response.
const (
	HeaderKey      = "Idempotency-Key"
	HeaderReplayed = "Idempotent-Replayed"
)

// HTTPOptions configure Middleware: the protocol Config (the JSON
// section) and the hooks only code can give.
type HTTPOptions struct {
	Config
	// Ledger stores the records. Required.
	Ledger Ledger
	// Scope returns the caller a key belongs to (tenant or authenticated
	// principal): two callers' equal keys are independent records. Never
	// the client address: it changes between a mobile client's retries.
	// Required unless Unscoped.
	Scope func(*http.Request) string
	// Unscoped accepts a nil Scope: every caller shares one key space
	// (single-tenant services).
	Unscoped bool
	// Operation names the operation (the record's namespace and the
	// fingerprint's route). Nil means r.Pattern, which ServeMux sets when
	// the middleware wraps a registered handler, else method and path.
	Operation func(*http.Request) string
	// Domain namespaces the records of this service.
	Domain string
	// Clock dates leases. Nil means baldur.SystemClock().
	Clock baldur.Clock
	// Metrics, when set, counts decisions.
	Metrics *Metrics
	// Logger receives ledger errors (never a key or scope). Nil means
	// slog.Default().
	Logger *slog.Logger
}

type httpMW struct {
	// initials has bit c&63 set for the first byte c of each guarded
	// method: a method whose bit is clear passes through after one test.
	initials uint64
	cfg      Config
	o        HTTPOptions
	methods  []string
	mask     uint16
	m        *Metrics
	log      *slog.Logger
	next     http.Handler
	nextFn   http.HandlerFunc // next, when it is a HandlerFunc: one indirect call fewer
}

// Middleware returns HTTP server middleware that runs each guarded request
// (Config.Methods, default POST and PATCH) at most once per
// Idempotency-Key (an RFC 9651 sf-string, 1–255 printable bytes):
//
//   - other methods, Off routes, and requests without a key when none is
//     required pass through untouched (no allocation);
//   - a missing required key, a malformed key or several key fields: 400;
//     a body over MaxBody: 413;
//   - the first request runs the handler under a lease renewed every
//     Lease/3 and bounded by its deadline plus Grace; its status, the
//     allow-listed headers and the body (up to MaxStored) are stored when
//     it succeeded or failed deterministically (2xx, 3xx, 4xx but 408,
//     409, 425, 429); a 5xx, one of those four, or a panic releases the
//     key so that a retry runs;
//   - a duplicate while the first runs: 409 with Retry-After (the lease
//     left); after it completed: the stored response, byte-identical, with
//     Idempotent-Replayed: true (409 in reject mode, or when the response
//     was too large to store); with another method, route or body: 422;
//   - the ledger unreachable: 503 and the handler does not run, unless the
//     route fails open (the handler runs unguarded, counted).
//
// The fingerprint is a SHA-256 over method, operation and body. The
// handler's writer implements http.Flusher (and FlushError, with the
// server writer's answer), Unwrap, and http.Hijacker exactly when the
// server's writer can hijack: a handler that hijacks the connection answers
// outside the middleware's view, so its claim is released instead of
// stored (a retry runs again). Safe for concurrent use.
func Middleware(o HTTPOptions) (func(http.Handler) http.Handler, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Ledger == nil {
		return nil, &baldur.ConfigError{Field: "Ledger", Reason: "is required"}
	}
	if o.Scope == nil && !o.Unscoped {
		return nil, &baldur.ConfigError{Field: "Scope", Reason: "is required: keys belong to a tenant or principal (set Unscoped for a single-tenant service)"}
	}
	h := &httpMW{cfg: o.withDefaults(), o: o, m: o.Metrics, log: o.Logger}
	h.methods = h.cfg.Methods
	for _, m := range h.methods {
		h.mask |= methodBit(m)
		h.initials |= 1 << (m[0] & 63)
	}
	if h.o.Clock == nil {
		h.o.Clock = baldur.SystemClock()
	}
	if h.m == nil {
		h.m = &Metrics{}
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		c := *h
		c.next = next
		c.nextFn, _ = next.(http.HandlerFunc)
		return &c
	}, nil
}

// methodBits numbers the common methods, so that the pass-through test is
// one switch and a mask.
func methodBit(m string) uint16 {
	switch m {
	case http.MethodGet:
		return 1
	case http.MethodHead:
		return 2
	case http.MethodPost:
		return 4
	case http.MethodPut:
		return 8
	case http.MethodPatch:
		return 16
	case http.MethodDelete:
		return 32
	case http.MethodOptions:
		return 64
	}
	return 0
}

func (h *httpMW) guarded(method string) bool {
	if bit := methodBit(method); bit != 0 {
		return h.mask&bit != 0
	}
	for _, m := range h.methods {
		if m == method {
			return true
		}
	}
	return false
}

func (h *httpMW) operation(r *http.Request) string {
	if h.o.Operation != nil {
		return h.o.Operation(r)
	}
	if r.Pattern != "" {
		return r.Pattern
	}
	return r.Method + " " + r.URL.Path
}

// Problem bodies, built once.
var (
	bodyMissing     = problem("idempotency_key_missing", "this request requires an Idempotency-Key header")
	bodyInvalid     = problem("idempotency_key_invalid", "Idempotency-Key must be one sf-string of 1-255 printable characters, e.g. \\\"8e03978e\\\"")
	bodyTooLarge    = problem("idempotency_body_too_large", "the request body is larger than the idempotency limit")
	bodyInProgress  = problem("idempotency_in_progress", "a request with this Idempotency-Key is in progress; retry later")
	bodyMismatch    = problem("idempotency_key_mismatch", "this Idempotency-Key was used with a different request")
	bodyDuplicate   = problem("idempotency_duplicate", "a request with this Idempotency-Key already completed")
	bodyUnreplay    = problem("idempotency_not_replayable", "a request with this Idempotency-Key already completed; its response was too large to store: fetch the resource it created instead")
	bodyUnavailable = problem("idempotency_unavailable", "the idempotency ledger is unavailable; the request was not run")
)

func problem(code, msg string) []byte {
	return []byte(`{"code":"` + code + `","message":"` + msg + `"}` + "\n")
}

func writeProblem(w http.ResponseWriter, status int, body []byte, retryAfter int) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	if retryAfter > 0 {
		hd.Set("Retry-After", strconv.Itoa(retryAfter))
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// state is one guarded request's working set, pooled, so that a first
// request allocates nothing but the ledger's copy of its response.
type state struct {
	buf   bytes.Buffer
	lr    io.LimitedReader
	rd    bytes.Reader
	body  body
	cw    capture
	claim Claim
	resp  Response
	bg    detached
	hash  hash.Hash
	scr   []byte // length prefixes and the digest
	fp    Fingerprint
}

// detached is context.WithoutCancel without its allocation: a request's
// values without its cancellation, for the ledger write after the handler
// returned (a client that hangs up must not keep its response from being
// stored).
type detached struct{ parent context.Context }

func (detached) Deadline() (time.Time, bool) { return time.Time{}, false }
func (detached) Done() <-chan struct{}       { return nil }
func (detached) Err() error                  { return nil }
func (d *detached) Value(key any) any        { return d.parent.Value(key) }
func (d *detached) String() string           { return "idempotency.detached" }

type body struct{ *bytes.Reader }

func (body) Close() error { return nil }

var states = sync.Pool{New: func() any { return &state{hash: sha256.New(), scr: make([]byte, 0, 128)} }}

// fingerprint sets st.fp to the SHA-256 over method, operation and body,
// the first two length-prefixed, without allocating.
func (st *state) fingerprint(method, op string, b []byte) {
	hs := st.hash
	hs.Reset()
	p := st.scr[:0]
	for _, s := range [...]string{method, op} {
		p = append(p, byte(len(s)>>24), byte(len(s)>>16), byte(len(s)>>8), byte(len(s)))
		p = append(p, s...)
	}
	hs.Write(p)
	hs.Write(b)
	p = hs.Sum(p[:0])
	copy(st.fp[:], p)
	if cap(p) <= 4<<10 {
		st.scr = p[:0]
	}
}

// ServeHTTP is kept small: a method none of the guarded ones starts with
// costs one test and the call to the next handler.
func (h *httpMW) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m := r.Method; len(m) == 0 || h.initials&(1<<(m[0]&63)) != 0 {
		if h.guarded(m) {
			h.serve(w, r)
			return
		}
	}
	if h.nextFn != nil {
		h.nextFn(w, r)
		return
	}
	h.next.ServeHTTP(w, r)
}

func (h *httpMW) serve(w http.ResponseWriter, r *http.Request) {
	op := h.operation(r)
	rl := h.cfg.ruleFor(op)
	if rl.off {
		h.next.ServeHTTP(w, r)
		return
	}
	vals := r.Header[HeaderKey]
	if len(vals) == 0 {
		h.m.Missing.Add(1)
		if rl.require {
			writeProblem(w, http.StatusBadRequest, bodyMissing, 0)
			return
		}
		h.next.ServeHTTP(w, r)
		return
	}
	key, err := ParseKey(vals[0])
	if err != nil || len(vals) > 1 {
		h.m.Invalid.Add(1)
		writeProblem(w, http.StatusBadRequest, bodyInvalid, 0)
		return
	}
	st := states.Get().(*state)
	defer states.Put(st)
	st.buf.Reset()
	if r.Body != nil && r.Body != http.NoBody {
		st.lr = io.LimitedReader{R: r.Body, N: h.cfg.MaxBody + 1}
		n, err := st.buf.ReadFrom(&st.lr)
		st.lr.R = nil
		if n > h.cfg.MaxBody {
			h.m.Invalid.Add(1)
			writeProblem(w, http.StatusRequestEntityTooLarge, bodyTooLarge, 0)
			return
		}
		if err != nil {
			h.m.Invalid.Add(1)
			writeProblem(w, http.StatusBadRequest, problem("idempotency_body_unreadable", "the request body could not be read"), 0)
			return
		}
		_ = r.Body.Close()
	}
	st.fingerprint(r.Method, op, st.buf.Bytes())
	st.rd.Reset(st.buf.Bytes())
	st.body.Reader = &st.rd
	r.Body = st.body

	scope := ""
	if h.o.Scope != nil {
		scope = h.o.Scope(r)
	}
	ctx := r.Context()
	st.claim, err = h.o.Ledger.Claim(ctx, ClaimRequest{Key: Key{Domain: h.o.Domain, Operation: op, Scope: scope, Key: key},
		Fingerprint: st.fp, Lease: h.cfg.Lease.D(), TTL: h.cfg.TTL.D()})
	if err != nil {
		if ctx.Err() != nil {
			return // the client is gone
		}
		h.log.LogAttrs(ctx, slog.LevelWarn, "idempotency: ledger unavailable", slog.String("operation", op),
			slog.Bool("fail_open", rl.failOpen), slog.String("error", err.Error()))
		if rl.failOpen {
			h.m.FailOpen.Add(1)
			h.next.ServeHTTP(w, r)
			return
		}
		h.m.StoreError.Add(1)
		writeProblem(w, http.StatusServiceUnavailable, bodyUnavailable, 1)
		return
	}
	switch st.claim.Outcome {
	case Claimed:
		h.m.First.Add(1)
		h.run(w, r, st)
	case Busy:
		h.m.InFlight.Add(1)
		writeProblem(w, http.StatusConflict, bodyInProgress, retryAfter(st.claim.Record.ExpiresAt.Sub(h.o.Clock.Now())))
	case Mismatch:
		h.m.Mismatch.Add(1)
		writeProblem(w, http.StatusUnprocessableEntity, bodyMismatch, 0)
	case Done:
		switch {
		case rl.mode == ModeReject:
			h.m.Duplicate.Add(1)
			writeProblem(w, http.StatusConflict, bodyDuplicate, 0)
		case st.claim.Response == nil:
			h.m.Duplicate.Add(1)
			writeProblem(w, http.StatusConflict, bodyUnreplay, 0)
		default:
			h.m.Replayed.Add(1)
			replay(w, st.claim.Response)
		}
	default:
		h.m.StoreError.Add(1)
		writeProblem(w, http.StatusServiceUnavailable, bodyUnavailable, 1)
	}
}

// retryAfter is d in whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

func replay(w http.ResponseWriter, resp *Response) {
	hd := w.Header()
	for _, f := range resp.Header {
		hd[f.Name] = append(hd[f.Name], f.Value)
	}
	hd[HeaderReplayed] = replayedTrue
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

var replayedTrue = []string{"true"}

// Storable reports whether a response of status is remembered: successes,
// redirects and deterministic 4xx are; 5xx and the transient 4xx (408
// Request Timeout, 409 Conflict, 425 Too Early, 429 Too Many Requests)
// release the key so that a retry runs.
func Storable(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return status < 500
}

func (h *httpMW) run(w http.ResponseWriter, r *http.Request, st *state) {
	ctx := r.Context()
	now := h.o.Clock.Now()
	dl, _ := ctx.Deadline()
	k := StartKeeper(h.o.Ledger, st.claim, h.o.Clock, LeaseLimit(now, dl, h.cfg.Grace.D(), h.cfg.TTL.D()), nil)
	cw := &st.cw
	cw.reset(w, h.cfg.Headers, h.cfg.MaxStored)
	done := false
	defer func() {
		lost := k.Lost()
		k.Stop()
		st.bg.parent = ctx
		bg := &st.bg
		switch {
		case !done, !Storable(cw.status), cw.hijacked: // panicked, failed, or answered on a hijacked connection
			h.finish(bg, st, nil, false, lost)
		case cw.over:
			h.finish(bg, st, nil, true, lost)
		default:
			st.resp = Response{Status: cw.status, Header: cw.fields, Body: cw.buf}
			h.finish(bg, st, &st.resp, true, lost)
			st.resp = Response{}
		}
		cw.w, st.bg.parent = nil, nil
	}()
	var ww http.ResponseWriter = cw
	if canHijack(w) {
		ww = hijackCapture{cw}
	}
	h.next.ServeHTTP(ww, r)
	done = true
}

func (h *httpMW) finish(ctx context.Context, st *state, resp *Response, store, lost bool) {
	var err error
	if store {
		err = h.o.Ledger.Complete(ctx, &st.claim, resp)
		if err == nil {
			h.m.Stored.Add(1)
		}
	} else {
		err = h.o.Ledger.Release(ctx, &st.claim)
		if err == nil {
			h.m.Released.Add(1)
		}
	}
	switch {
	case errors.Is(err, ErrLeaseLost) || (err == nil && lost):
		h.m.LeaseLost.Add(1)
	case err != nil:
		// The record stays in progress until its lease ends.
		h.log.LogAttrs(ctx, slog.LevelWarn, "idempotency: ledger write failed; the key frees itself when its lease ends",
			slog.String("operation", st.claim.Key.Operation), slog.Bool("store", store), slog.String("error", err.Error()))
	}
}

// capture records what the handler answers while passing it on.
type capture struct {
	w      http.ResponseWriter
	allow  []string
	max    int
	status int
	wrote  bool
	over   bool
	// hijacked: the handler took the connection; what it wrote there
	// was not seen, so nothing can be stored.
	hijacked bool
	buf      []byte
	fields   []HeaderField
}

func (c *capture) reset(w http.ResponseWriter, allow []string, max int) {
	c.w, c.allow, c.max, c.status, c.wrote, c.over, c.hijacked = w, allow, max, http.StatusOK, false, false, false
	c.buf, c.fields = c.buf[:0], c.fields[:0]
}

func (c *capture) Header() http.Header { return c.w.Header() }

func (c *capture) WriteHeader(code int) {
	if !c.wrote && code >= 200 {
		c.wrote, c.status = true, code
		hd := c.w.Header()
		for _, name := range c.allow {
			for _, v := range hd[name] {
				c.fields = append(c.fields, HeaderField{Name: name, Value: v})
			}
		}
	}
	c.w.WriteHeader(code)
}

func (c *capture) Write(b []byte) (int, error) {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	if !c.over {
		if len(c.buf)+len(b) > c.max {
			c.over, c.buf = true, c.buf[:0]
		} else {
			c.buf = append(c.buf, b...)
		}
	}
	return c.w.Write(b)
}

// Flush forwards to the underlying writer when it can flush (http.Flusher).
func (c *capture) Flush() { _ = c.FlushError() }

// FlushError is Flush with the underlying writer's answer, which
// http.ResponseController prefers: an error wrapping http.ErrNotSupported
// when it cannot flush.
func (c *capture) FlushError() error {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(c.w).Flush()
}

// hijackCapture is the capture of a writer that can hijack: it has Hijack
// exactly then, so that w.(http.Hijacker) tells the truth (an HTTP/2
// writer cannot), and http.ResponseController finds it before Unwrap. One
// pointer: storing it in an interface does not allocate.
type hijackCapture struct{ *capture }

// Hijack hands the connection to the handler. What the handler writes on a
// hijacked connection bypasses the capture, so its response cannot be
// stored: the claim is released when the handler returns, and a retry runs
// again.
func (h hijackCapture) Hijack() (net.Conn, *bufio.ReadWriter, error) { return h.hijack() }

// canHijack reports whether w, or a writer it unwraps to, is an
// http.Hijacker: the walk http.ResponseController makes.
func canHijack(w http.ResponseWriter) bool {
	for range 16 {
		switch t := w.(type) {
		case http.Hijacker:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return false
		}
	}
	return false
}

func (c *capture) hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(c.w).Hijack()
	if err == nil {
		c.hijacked = true
	}
	return conn, rw, err
}

// Unwrap returns the underlying writer (http.ResponseController).
func (c *capture) Unwrap() http.ResponseWriter { return c.w }
