package admin

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/baldur-go/baldur"
)

// Rejection history: the counters of every policy are summed per reason
// and sampled when GET /rejections is asked, at most once per
// rejectionStep, keeping rejectionSamples samples (six minutes). No
// goroutine samples in the background, so the history starts with the
// first read after the server starts.
const (
	rejectionStep    = 5 * time.Second
	rejectionSamples = 73
)

type rejectionSample struct {
	at     time.Time
	counts []uint64 // per baldur.Reasons() index
}

// rejectionSampler is safe for concurrent use.
type rejectionSampler struct {
	mu      sync.Mutex
	samples []rejectionSample // oldest first
}

// sample appends a sample at now unless the newest is younger than
// rejectionStep, and returns a copy of the history.
func (rs *rejectionSampler) sample(now time.Time, read func() []uint64) []rejectionSample {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if n := len(rs.samples); n == 0 || now.Sub(rs.samples[n-1].at) >= rejectionStep {
		rs.samples = append(rs.samples, rejectionSample{at: now, counts: read()})
		if len(rs.samples) > rejectionSamples {
			rs.samples = append(rs.samples[:0], rs.samples[len(rs.samples)-rejectionSamples:]...)
		}
	}
	return append([]rejectionSample(nil), rs.samples...)
}

type reasonView struct {
	Reason string `json:"reason"`
	Gate   string `json:"gate"`
	Total  uint64 `json:"total"`
	Last1m uint64 `json:"last_1m"`
	Last5m uint64 `json:"last_5m"`
}

type rejectionPoint struct {
	Time     time.Time `json:"time"`
	Rejected uint64    `json:"rejected"`
}

type rejectionsView struct {
	// HistorySeconds is how far back the samples reach; the last_1m and
	// last_5m counts cover at most that.
	HistorySeconds float64      `json:"history_s"`
	Items          []reasonView `json:"items"`
	// Series is the rejections of every reason between consecutive
	// samples, oldest first, for a chart.
	Series []rejectionPoint `json:"series"`
}

// rejections answers GET /rejections: per reason, the rejections of every
// policy since start (total) and over the last one and five minutes:
// between the oldest sample inside the window and now, so a count never
// includes a rejection older than its window (and, when the server was not
// asked for a while, may cover less of it).
func (s *Server) rejections(_ *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	reg := s.cfg.Registry
	reasons := baldur.Reasons()
	now := s.clock.Now()
	hist := s.rejects.sample(now, func() []uint64 {
		counts := make([]uint64, len(reasons))
		for _, name := range reg.PolicyNames() {
			if p, ok := reg.PolicyByName(name); ok {
				for i, r := range reasons {
					counts[i] += p.Rejected(r)
				}
			}
		}
		return counts
	})
	cur := hist[len(hist)-1]
	since := func(d time.Duration) rejectionSample {
		for _, smp := range hist {
			if now.Sub(smp.at) <= d {
				return smp
			}
		}
		return cur
	}
	m1, m5 := since(time.Minute), since(5*time.Minute)
	v := rejectionsView{HistorySeconds: now.Sub(hist[0].at).Seconds(), Items: []reasonView{}, Series: []rejectionPoint{}}
	for i, r := range reasons {
		if cur.counts[i] == 0 {
			continue
		}
		v.Items = append(v.Items, reasonView{Reason: r.String(), Gate: r.Gate(), Total: cur.counts[i],
			Last1m: delta(cur.counts[i], m1.counts[i]), Last5m: delta(cur.counts[i], m5.counts[i])})
	}
	for j := 1; j < len(hist); j++ {
		var n uint64
		for i := range reasons {
			n += delta(hist[j].counts[i], hist[j-1].counts[i])
		}
		v.Series = append(v.Series, rejectionPoint{Time: hist[j].at, Rejected: n})
	}
	return v, nil, nil
}

// delta is cur-old; a counter that went down (a reload built the policy
// anew) counts from zero.
func delta(cur, old uint64) uint64 {
	if cur < old {
		return cur
	}
	return cur - old
}
