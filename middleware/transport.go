package middleware

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/coarse"
	"github.com/baldur-go/baldur/internal/memo"
	"github.com/baldur-go/baldur/internal/strhash"
)

// TransportConfig configures NewTransport, as http.Transport's fields
// configure it: every field is optional and the zero value gives the
// defaults. It is a plain value that NewTransport copies: changing it, or
// sharing it between goroutines, afterwards affects no transport.
type TransportConfig struct {
	// Next sends the requests admitted. Nil means http.DefaultTransport.
	Next http.RoundTripper

	// Operation names a request's operation, by which its policy is
	// resolved. Nil means "METHOD host" ("GET api.example.com:8443"),
	// built once per method and host, not per request.
	Operation func(*http.Request) string
	// Key returns a request's partition key. Nil means the upstream host
	// (URL.Host), so that breakers, throttles and share caps partition per
	// upstream. It should not allocate.
	Key KeyFunc
	// Tier classifies requests. Nil means the standard tier.
	Tier func(*http.Request) baldur.Tier
	// Service sets Call.Service (the kill-switch scope) of every request.
	Service string
	// Region sets Call.Region of every request.
	Region string

	// Clock is read at admission and by the cooldowns. Nil means the
	// system clock for the cooldowns and, unless Latency is set, the
	// process's coarse clock at admission (a reading at most about 1 ms
	// old for one atomic load: the gates need no finer time).
	Clock baldur.Clock
	// Latency reports each request's latency, from admission to the end of
	// its response body, in Outcome.Latency, at the cost of a second clock
	// read per request. False reads the clock once per call.
	Latency bool

	// Cooldown configures the per-host cooldown after 429 and 503
	// responses. The zero Cooldown gives the defaults.
	Cooldown Cooldown

	// DLQ, when set, captures the requests that finally failed (a
	// rejection, a transport error, a 5xx response) for a later replay
	// (dlq.Queue.CapturePoint). Nil captures nothing.
	DLQ DLQ
}

// NewTransport returns an http.RoundTripper that guards every request sent
// through cfg.Next with the policy r resolves for the request's operation,
// and that backs off from upstreams answering 429 or 503 (see Cooldown).
//
// A rejected request does no network I/O: RoundTrip closes its body and
// returns the rejection (errors.Is(err, baldur.ErrRejected); http.Client
// wraps it in a *url.Error, which unwraps). An admitted request holds its
// permits until its response body is read to the end or closed, not merely
// until RoundTrip returns, so a bulkhead bounds the responses being read and
// not only the requests in flight; as with net/http, the caller must close
// the body. The outcome is a failure for a 5xx status, a transport error, a
// timeout or a body that fails mid-read; ignored for a 4xx status and for
// the caller's cancellation; a success otherwise.
//
// When the policy holds a worker-pool bulkhead (a baldur.Runner, such as
// bulkhead.Pool), the request is sent from one of the pool's workers: the
// pool's queue bounds the requests waiting to be sent, a full pool rejects
// at once (ReasonBulkheadFull), and the pool's Timeout bounds the wait for
// the response headers. A request that overruns it returns the pool's
// timeout error as the transport error (errors.Is(err, bulkhead.ErrTimeout)
// and errors.Is(err, baldur.ErrRejected); the outcome is a failure), and
// the request sent on the worker is cancelled. The worker is free once the
// headers are in; the response body is read on the caller's goroutine and
// stays readable after the timeout would have passed, and the policy's
// other permits are held until it is closed, as without a pool. A response
// that arrives just as the timeout passes loses: its body is closed and the
// caller gets the timeout error.
//
// The transport never changes the caller's request and never cancels or
// replaces its context; on a pool, what is sent is a shallow copy whose
// context carries the caller's values and ends with the caller's, at the
// pool's timeout before the headers, or when the body is closed, and the
// response's Request is the caller's. It is safe for concurrent use, and
// with a policy whose permits hold nothing it adds no allocation per
// request.
func NewTransport(r baldur.Resolver, cfg TransportConfig) http.RoundTripper {
	t := &transport{next: cfg.Next, r: r, operation: cfg.Operation, key: cfg.Key, tier: cfg.Tier,
		clock: cfg.Clock, service: cfg.Service, region: cfg.Region, latency: cfg.Latency, ops: new(opCache), dlq: cfg.DLQ}
	t.keyed, _ = r.(baldur.KeyedResolver)
	if t.next == nil {
		t.next = http.DefaultTransport
	}
	if t.clock == nil {
		t.clock = baldur.SystemClock()
		t.coarse = !cfg.Latency
	}
	t.cool.cfg = cfg.Cooldown
	t.cool.init(t.clock.Now())
	return t
}

type transport struct {
	next      http.RoundTripper
	r         baldur.Resolver
	keyed     baldur.KeyedResolver // r, when it resolves per key
	operation func(*http.Request) string
	key       KeyFunc
	tier      func(*http.Request) baldur.Tier
	clock     baldur.Clock
	service   string
	region    string
	latency   bool
	coarse    bool // Call.Now is read from the coarse clock (no Clock, no Latency)
	ops       *opCache
	cool      cooldowns
	dlq       DLQ
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	if host == "" {
		host = req.Host
	}
	var now time.Time
	probe := false
	if t.cool.any() {
		now = t.clock.Now()
		var err error
		if probe, err = t.cool.check(host, now); err != nil {
			if t.dlq != nil {
				t.captureDLQ(req, t.operationOf(req, host), 0, err)
			}
			closeRequestBody(req)
			return nil, err
		}
	}
	// From here the request may hold the host's probe and, after admission,
	// permits. Whatever panics before they are handed on (the caller's
	// callbacks, a gate, the wrapped RoundTripper) must not keep them: the
	// deferred unwind gives the probe back and releases the permits as a
	// Failure, and the panic then goes on unchanged (not recovered, so its
	// stack stays the original's). A Goexit takes the same way out.
	u := unwind{t: t, host: host, probe: probe}
	defer u.run()
	op := t.operationOf(req, host)
	if p, key := t.resolve(req, op, host); p != nil {
		if now.IsZero() {
			now = t.admissionTime()
		}
		u.now = now
		var call baldur.Call
		t.fillCall(&call, req, op, key, now)
		// The permits go straight into the pooled ticket a response body
		// holds them in, so that handing them on copies nothing.
		u.held = tickets.Get().(*heldTicket)
		if err := p.AdmitInto(req.Context(), &call, &u.held.t); err != nil {
			u.done()
			u.giveBack()
			if probe {
				t.cool.abandon(host)
			}
			if t.dlq != nil {
				t.captureDLQ(req, op, 0, err)
			}
			closeRequestBody(req)
			return nil, err
		}
	}

	var resp *http.Response
	var err error
	var cancel context.CancelCauseFunc // the context of a request sent on a pool
	if u.held != nil && u.held.t.Runs() {
		resp, cancel, err = t.roundTripOnPool(req, &u.held.t)
	} else if resp, err = t.next.RoundTrip(req); err == nil && resp == nil {
		err = errNilResponse // as http.Client would say; never dereference it
	}
	if err != nil {
		u.done()
		if probe {
			t.cool.abandon(host)
		}
		if u.held != nil {
			u.held.t.Release(baldur.Outcome{Result: errResult(req.Context(), err), Latency: t.since(now)})
			u.giveBack()
		}
		if t.dlq != nil && errResult(req.Context(), err) == baldur.Failure {
			t.captureDLQ(req, op, 0, err)
		}
		return nil, err
	}
	if probe || isCooldownStatus(resp.StatusCode) {
		t.cool.record(host, t.clock.Now(), resp, probe)
	}
	u.probe = false // record settled it
	if resp.StatusCode >= 500 && t.dlq != nil {
		t.captureDLQ(req, op, resp.StatusCode, nil)
	}
	if (u.held == nil || !u.held.t.Held()) && cancel == nil {
		u.done()
		u.giveBack()
		return resp, nil
	}
	o := baldur.Outcome{Result: statusResult(resp.StatusCode), Status: resp.StatusCode}
	if resp.Body == nil || resp.Body == http.NoBody {
		u.done()
		o.Latency = t.since(now)
		if u.held != nil {
			u.held.t.Release(o)
			u.giveBack()
		}
		if cancel != nil {
			cancel(nil)
		}
		return resp, nil
	}
	h := u.held
	h.tr, h.ctx, h.start, h.outcome, h.cancel = t, req.Context(), now, o, cancel
	b := newBody(resp.Body, h)
	u.done() // the body owns the permits now
	if _, ok := resp.Body.(io.Writer); ok {
		resp.Body = &readWriteBody{b} // 101 Switching Protocols: the body is the connection
	} else {
		resp.Body = b
	}
	return resp, nil
}

// errNilResponse is the error of a wrapped RoundTripper that returned
// neither a response nor an error.
var errNilResponse = errors.New("baldur: RoundTripper returned a nil response and a nil error")

// unwind is what RoundTrip gives back if it is left by a panic: the host's
// probe and the permits it still holds. It lives on RoundTrip's stack.
type unwind struct {
	t       *transport
	host    string
	probe   bool
	settled bool
	now     time.Time
	held    *heldTicket // the permits of a guarded request, from tickets
}

// done marks the probe and the permits as handed on or given back.
func (u *unwind) done() { u.settled = true }

// giveBack returns the held ticket, released or never filled, to the pool.
func (u *unwind) giveBack() {
	if u.held != nil {
		tickets.Put(u.held)
		u.held = nil
	}
}

func (u *unwind) run() {
	if u.settled {
		return
	}
	if u.probe {
		u.t.cool.abandon(u.host)
	}
	if u.held != nil {
		u.held.t.Release(baldur.Outcome{Result: baldur.Failure, Latency: u.t.since(u.now)})
		u.giveBack()
	}
}

// CloseIdleConnections closes the idle connections of the wrapped
// transport, if it has any, so that http.Client.CloseIdleConnections works
// through the transport.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t *transport) operationOf(req *http.Request, host string) string {
	if t.operation != nil {
		return t.operation(req)
	}
	return t.ops.get(req.Method, host)
}

// fillCall fills c, the zero Call, with the call of req, in place and
// field by field (see server.ServeHTTP for why not a literal).
func (t *transport) fillCall(c *baldur.Call, req *http.Request, op, key string, now time.Time) {
	c.Operation, c.Service, c.Region, c.Key, c.Now = op, t.service, t.region, key, now
	if t.tier != nil {
		c.Tier = t.tier(req)
	}
	if d, ok := req.Context().Deadline(); ok {
		c.Deadline = d
	}
}

// admissionTime is Call.Now of a request whose host is not cooling down:
// the process's coarse clock unless a Clock was given or latency is
// measured (see internal/coarse for why its tick is all the gates need).
func (t *transport) admissionTime() time.Time {
	if t.coarse {
		return coarse.Now()
	}
	return t.clock.Now()
}

func (t *transport) since(start time.Time) time.Duration {
	if !t.latency {
		return 0
	}
	return t.clock.Now().Sub(start)
}

// closeRequestBody honors the RoundTripper contract: the body is closed
// even when the request is never sent.
func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

func statusResult(code int) baldur.Result {
	switch {
	case code >= 500:
		return baldur.Failure
	case code >= 400:
		return baldur.Ignored
	}
	return baldur.Success
}

// errResult classifies a transport or body error: the caller's
// cancellation says nothing about the upstream; anything else, timeouts
// included, is a failure.
func errResult(ctx context.Context, err error) baldur.Result {
	if errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled) {
		return baldur.Ignored
	}
	return baldur.Failure
}

// body releases its request's permits when it is read to the end, fails,
// or is closed, whichever comes first, exactly once. It does not implement
// io.WriterTo: io.Copy then reads through Read (into the destination's
// ReadFrom or a buffer), so the end of the body is always seen.
type body struct {
	rc   io.ReadCloser
	done atomic.Bool // whoever flips it owns held
	held *heldTicket // the permits and what their release needs; given back by the owner of done
}

// heldTicket holds the permits of a response being read and what their
// release needs. It lives in a pooled holder rather than in the body, so
// that the body wrapper stays at 32 bytes (see newBody for why wrappers
// come in blocks): the wrapper cannot be pooled (the caller keeps it after
// Close), its holder can, because only the goroutine that finishes the
// body touches it.
type heldTicket struct {
	t       baldur.Ticket
	tr      *transport
	ctx     context.Context
	start   time.Time
	outcome baldur.Outcome
	cancel  context.CancelCauseFunc // ends the context of a request sent on a pool; nil otherwise
}

var tickets = sync.Pool{New: func() any { return new(heldTicket) }}

func (b *body) Read(p []byte) (n int, err error) {
	returned := false
	defer func() {
		if !returned { // the wrapped body panicked: the read failed
			b.finish(errBodyPanicked)
		}
	}()
	n, err = b.rc.Read(p)
	returned = true
	if err != nil {
		b.finish(err)
	}
	return n, err
}

func (b *body) Close() error {
	defer b.finish(nil) // even if the wrapped Close panics
	return b.rc.Close()
}

// errBodyPanicked is the read error of a body whose Read panicked.
var errBodyPanicked = errors.New("baldur: response body panicked")

func (b *body) finish(readErr error) {
	if b.done.Load() || !b.done.CompareAndSwap(false, true) {
		return
	}
	h := b.held
	b.held = nil
	o := h.outcome
	if readErr != nil && readErr != io.EOF {
		o.Result = errResult(h.ctx, readErr)
	}
	o.Latency = h.tr.since(h.start)
	h.t.Release(o) // leaves it empty, as a zero Ticket
	cancel := h.cancel
	h.tr, h.ctx, h.cancel = nil, nil, nil // hold no reference in the pool
	tickets.Put(h)
	if cancel != nil {
		cancel(nil)
	}
}

// readWriteBody keeps the io.Writer of a 101 response's body, which is the
// upgraded connection.
type readWriteBody struct{ *body }

func (b *readWriteBody) Write(p []byte) (int, error) { return b.rc.(io.Writer).Write(p) }

// opCache remembers "METHOD host" operation names so that naming a request
// does not allocate; many hosts only evict each other (see memo.Table).
type opCache struct{ names memo.Table[opKey] }

type opKey struct{ method, host string }

func (c *opCache) get(method, host string) string {
	if method == "" {
		method = http.MethodGet
	}
	// The host by the seeded string hash (two multiplies for up to 16
	// bytes, one more per further 16, where FNV would be one dependent
	// multiply per byte), mixed with the method's FNV hash (a few bytes).
	h := uint32(strhash.String(opSeed, host)>>32) ^ memo.Hash(memo.Offset, method)
	return c.names.Get(opKey{method, host}, h, opName)
}

// opSeed seeds the hash of opCache's hosts.
var opSeed = strhash.Seed()

func opName(k opKey) string { return k.method + " " + k.host }
