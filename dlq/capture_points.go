package dlq

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/baldur-go/baldur"
)

// CapturePoint turns the failures the adapters see into captures for
// one domain: middleware.TransportConfig.DLQ takes it for HTTP, and
// dlqgrpc.New wraps it for interceptor.WithDLQ (gRPC unary clients). Throttle rejections
// (throttled, share_cap) are captured by tier: critical always
// (ThrottleCapture.CriticalOff stops it), standard sampled at
// ThrottleCapture.StandardSample, non_essential never; every other final
// failure is captured. A capture that fails (full outbox) never reaches the
// caller of the failed call. Safe for concurrent use.
type CapturePoint struct {
	q       *Queue
	domain  string
	headers map[string]bool // canonical names
}

// CapturePoint returns the capture point of domain.
func (q *Queue) CapturePoint(domain string) *CapturePoint {
	h := make(map[string]bool, len(q.cfg.Headers))
	for _, n := range q.cfg.Headers {
		h[http.CanonicalHeaderKey(n)] = true
	}
	return &CapturePoint{q: q, domain: domain, headers: h}
}

// wants applies the tier rule to a rejection; other failures are wanted.
func (c *CapturePoint) wants(tier baldur.Tier, err error) bool {
	rej, ok := baldur.AsRejection(err)
	if !ok || (rej.Reason() != baldur.ReasonThrottled && rej.Reason() != baldur.ReasonShareCap) {
		return true
	}
	tc := c.q.cfg.ThrottleCapture
	switch tier {
	case baldur.TierCritical:
		return !tc.CriticalOff
	case baldur.TierStandard:
		return tc.StandardSample > 0 && rand.Float64() < tc.StandardSample
	}
	return false
}

// failureType names a failure: the rejection's reason, "http_<status>",
// "status_<code>" for gRPC, "timeout", "canceled" or "transport_error".
func failureType(err error, httpStatus int) string {
	if rej, ok := baldur.AsRejection(err); ok {
		return rej.Reason().String()
	}
	if err == nil && httpStatus > 0 {
		return "http_" + strconv.Itoa(httpStatus)
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "transport_error"
}

// CaptureRequest captures an outbound HTTP request that finally failed:
// rejected (err a *baldur.Rejection, nothing sent), answered with a 5xx
// status (status, err nil) or failed in transport (err). The body is
// captured when it can be read again: through req.GetBody, or, for a
// request that was never sent, from req.Body (which the transport closes
// anyway); otherwise the entry keeps the metadata and says
// "not_replayable".
func (c *CapturePoint) CaptureRequest(req *http.Request, operation string, tier baldur.Tier, httpStatus int, err error) {
	if !c.wants(tier, err) {
		return
	}
	_, rejected := baldur.AsRejection(err)
	e := Entry{Domain: c.domain, Operation: operation, Tier: tier, Origin: OriginHTTP, Method: req.Method,
		FailureType: failureType(err, httpStatus)}
	if err != nil {
		e.Error = err.Error()
	} else {
		e.Error = "HTTP " + strconv.Itoa(httpStatus)
	}
	if req.URL != nil {
		u := *req.URL
		u.User = nil
		e.URL = u.String()
	}
	for name, vs := range req.Header {
		if c.headers[name] && len(vs) > 0 {
			if e.Header == nil {
				e.Header = map[string]string{}
			}
			e.Header[name] = vs[0]
		}
	}
	if tp := req.Header.Get("Traceparent"); len(tp) >= 35 {
		e.TraceID = tp[3:35]
	}
	limit := int64(c.q.cfg.MaxCapture) + 1
	switch {
	case req.GetBody != nil:
		if b, gerr := req.GetBody(); gerr == nil {
			e.Payload, _ = io.ReadAll(io.LimitReader(b, limit))
			_ = b.Close()
		} else {
			e.PayloadDropped = "not_replayable"
		}
	case req.Body != nil && req.Body != http.NoBody && rejected:
		e.Payload, _ = io.ReadAll(io.LimitReader(req.Body, limit))
	case req.Body != nil && req.Body != http.NoBody:
		e.PayloadDropped = "not_replayable"
	}
	_, _ = c.q.Capture(req.Context(), e)
}

// Wants reports whether a failure of tier is captured: the tier rule
// for throttle rejections, true for any other failure. Adapters in other
// packages (dlqgrpc) call it before building an entry.
func (c *CapturePoint) Wants(tier baldur.Tier, err error) bool { return c.wants(tier, err) }

// Capture queues e for the capture point's domain (its Domain is set),
// ignoring a full outbox.
func (c *CapturePoint) Capture(ctx context.Context, e Entry) {
	e.Domain = c.domain
	_, _ = c.q.Capture(ctx, e)
}

// FailureType names a failure as captures do: the rejection's reason,
// "http_<status>" for a status without an error, "timeout", "canceled", or
// "transport_error".
func FailureType(err error, httpStatus int) string { return failureType(err, httpStatus) }

// HTTPHandler replays HTTP entries with client: the request is rebuilt
// from Method, URL, Header and Payload, with Idempotency-Key set to the
// replay's key. A 5xx answer or a transport error is a failure; a 429 is a
// rejection (the entry goes back uncounted); any other answer resolves the
// entry.
func HTTPHandler(client *http.Client) Handler {
	if client == nil {
		client = http.DefaultClient
	}
	return func(ctx context.Context, e Entry, key string) error {
		if e.PayloadDropped != "" || e.Truncated {
			// Not the request that failed: count the attempt, and review
			// takes it after MaxAttempts.
			return errors.New("dlq: entry has no complete payload to replay")
		}
		req, err := http.NewRequestWithContext(ctx, e.Method, e.URL, strings.NewReader(string(e.Payload)))
		if err != nil {
			return err
		}
		for k, v := range e.Header {
			req.Header.Set(k, v)
		}
		req.Header.Set("Idempotency-Key", key)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			return baldur.Reject(baldur.ReasonThrottled, 0)
		case resp.StatusCode >= 500:
			return errors.New("dlq: replay answered " + resp.Status)
		}
		return nil
	}
}
