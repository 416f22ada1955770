package middleware

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/baldur-go/baldur"
)

// Header names written on rejections.
const (
	HeaderGate   = "X-Baldur-Gate"
	HeaderReason = "X-Baldur-Reason"
)

// rendered is a rejection's response, computed once per interned Rejection
// so that rejecting allocates nothing before the response is written.
type rendered struct {
	retryAfter []string
	gate       []string
	reason     []string
	body       []byte
	length     []string
}

var (
	renderedCache sync.Map // *baldur.Rejection -> *rendered
	jsonType      = []string{"application/json"}
	noSniff       = []string{"nosniff"}
)

func render(rej *baldur.Rejection) *rendered {
	if v, ok := renderedCache.Load(rej); ok {
		return v.(*rendered)
	}
	secs := strconv.FormatInt(rej.RetryAfterSeconds(), 10)
	body := `{"code":"` + rej.Reason().String() + `","gate":"` + rej.Gate() + `","retry_after_s":` + secs + "}\n"
	rd := &rendered{
		retryAfter: []string{secs},
		gate:       []string{rej.Gate()},
		reason:     []string{rej.Reason().String()},
		body:       []byte(body),
		length:     []string{strconv.Itoa(len(body))},
	}
	if rej.RetryAfterSeconds() > baldur.MaxInternedRetryAfter {
		// Not interned: a fresh Rejection each time, so caching it would
		// grow the cache without bound.
		return rd
	}
	v, _ := renderedCache.LoadOrStore(rej, rd)
	return v.(*rendered)
}

// WriteRejection answers w with rej per the rejection table: status,
// Retry-After, X-Baldur-Gate, X-Baldur-Reason and the JSON body. Adapters of
// other frameworks can use it to answer exactly as the middleware does.
func WriteRejection(w http.ResponseWriter, rej *baldur.Rejection) {
	rd := render(rej)
	h := w.Header()
	h["Retry-After"] = rd.retryAfter
	h[HeaderGate] = rd.gate
	h[HeaderReason] = rd.reason
	h["Content-Type"] = jsonType
	h["Content-Length"] = rd.length
	h["X-Content-Type-Options"] = noSniff
	w.WriteHeader(rej.HTTPStatus())
	_, _ = w.Write(rd.body)
}

func (s *server) reject(w http.ResponseWriter, p *baldur.Policy, tier baldur.Tier, rej *baldur.Rejection) {
	if rej.Reason() == baldur.ReasonThrottled {
		if q, ok := p.Quota(tier); ok {
			s.writeQuota(w.Header(), baldur.QuotaStatus{Quota: q, Remaining: 0, Reset: rej.RetryAfter()})
		}
	}
	WriteRejection(w, rej)
}

// FormatRateLimitPolicy returns the RateLimit-Policy field value for q:
// `"name";q=100;w=1`.
func FormatRateLimitPolicy(q baldur.Quota) string {
	w := ceilSeconds(q.Window)
	if w < 1 {
		w = 1
	}
	return strconv.Quote(policyName(q.Name)) + ";q=" + strconv.FormatInt(q.Limit, 10) + ";w=" + strconv.FormatInt(w, 10)
}

// FormatRateLimit returns the RateLimit field value: `"name";r=42;t=1`.
func FormatRateLimit(name string, remaining, resetSeconds int64) string {
	if remaining < 0 {
		remaining = 0
	}
	return strconv.Quote(policyName(name)) + ";r=" + strconv.FormatInt(remaining, 10) + ";t=" + strconv.FormatInt(resetSeconds, 10)
}

// ceilSeconds rounds d up to whole seconds, as the RateLimit fields count
// them: a window or reset of 1.2 s is advertised as 2.
func ceilSeconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

func policyName(n string) string {
	if n == "" {
		return "default"
	}
	return n
}
