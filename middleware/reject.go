package middleware

import (
	"net/http"
	"strconv"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/ratelimit"
	"github.com/baldur-go/baldur/internal/render"
)

// Header names written on rejections.
const (
	HeaderGate   = "X-Baldur-Gate"
	HeaderReason = "X-Baldur-Reason"
)

// rendered is a rejection's response, computed once per interned Rejection
// so that rejecting allocates nothing before the response is written.
//
// Its header values are shared: every response rejected for the same
// reason and Retry-After gets the same []string slices in its header map.
// Each has length and capacity 1, so Header.Set, Add, Del and append never
// write into them; only an in-place write (h["Retry-After"][0] = v) does.
// Such a write is caught at the next use, which checks the slices against
// want and renders afresh when they differ, so an edit reaches at most the
// responses being written at that moment, not every later one.
//
// Why shared and checked rather than owned by each response: measured with
// BenchmarkWriteRejection (reject_bench_test.go), all three ways in one run
// (-cpu 1, 8 runs, minimum, on 2 cores shared with other load, so only the
// differences mean anything): with one header map reused, as the alloc
// tests do, shared slices took 241 ns and 0 allocs, shared and checked
// 211 ns and 0 allocs (the check is lost in the noise), owned values 367 ns
// and 1 alloc (96 B); with a fresh map per response, as net/http gives,
// 586 ns/2 allocs, 492 ns/2 allocs and 512 ns/3 allocs. Owned values would
// add an allocation to every rejection, against the reject path's
// 0-allocation target; checking costs six string comparisons and nothing
// on the heap.
type rendered struct {
	want        [6]string // the values, apart from the slices handed out
	retryAfter  []string
	gate        []string
	reason      []string
	contentType []string
	length      []string
	noSniff     []string
	body        []byte
}

// rendered is the middleware's cache of rejection responses; one whose
// shared values were written in place is rendered afresh.
var renderedCache = render.Cache[*rendered]{Build: build, Intact: (*rendered).intact}

// intact reports whether no handed-out value was written in place.
func (rd *rendered) intact() bool {
	return rd.retryAfter[0] == rd.want[0] && rd.gate[0] == rd.want[1] && rd.reason[0] == rd.want[2] &&
		rd.contentType[0] == rd.want[3] && rd.length[0] == rd.want[4] && rd.noSniff[0] == rd.want[5]
}

func build(rej *baldur.Rejection) *rendered {
	secs := strconv.FormatInt(rej.RetryAfterSeconds(), 10)
	body := `{"code":"` + rej.Reason().String() + `","gate":"` + rej.Gate() + `","retry_after_s":` + secs + "}\n"
	rd := &rendered{
		want: [6]string{secs, rej.Gate(), rej.Reason().String(), "application/json", strconv.Itoa(len(body)), "nosniff"},
		body: []byte(body),
	}
	v := rd.want // one backing array, sliced with capacity 1 per value
	rd.retryAfter, rd.gate, rd.reason = v[0:1:1], v[1:2:2], v[2:3:3]
	rd.contentType, rd.length, rd.noSniff = v[3:4:4], v[4:5:5], v[5:6:6]
	return rd
}

// WriteRejection answers w with rej per the rejection table: status,
// Retry-After, X-Baldur-Gate, X-Baldur-Reason and the JSON body. Adapters of
// other frameworks can use it to answer exactly as the middleware does.
//
// The header values it sets are shared with other responses, so that a
// rejection allocates nothing: replace them (Header.Set, Header.Del), never
// write into them (h["Retry-After"][0] = v). An in-place write is detected
// and undone for later responses, but responses written at the same moment
// may carry it, and it is a data race.
func WriteRejection(w http.ResponseWriter, rej *baldur.Rejection) {
	rd := renderedCache.Get(rej)
	h := w.Header()
	h["Retry-After"] = rd.retryAfter
	h[HeaderGate] = rd.gate
	h[HeaderReason] = rd.reason
	h["Content-Type"] = rd.contentType
	h["Content-Length"] = rd.length
	h["X-Content-Type-Options"] = rd.noSniff
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
// `"name";q=100;w=1`, the name an sf-string (a byte it cannot hold, a
// control or non-ASCII, written as '_'; an empty name as "default") and the
// window in whole seconds, rounded up, at least one.
func FormatRateLimitPolicy(q baldur.Quota) string {
	var b [64]byte
	return string(ratelimit.AppendPolicy(b[:0], q.Name, q.Limit, q.Window))
}

// FormatRateLimit returns the RateLimit field value: `"name";r=42;t=1`,
// with the name as FormatRateLimitPolicy writes it; negative counts are 0.
func FormatRateLimit(name string, remaining, resetSeconds int64) string {
	var b [64]byte
	return string(ratelimit.AppendRateLimit(b[:0], name, remaining, resetSeconds))
}
