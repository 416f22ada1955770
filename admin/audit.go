package admin

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// auditRingSize is how many audit records GET /audit keeps: the recent
// past of an incident, not an archive (the log is the archive).
const auditRingSize = 256

// operatorOnlyAttrs are audit attributes a VIEWER does not see, for the
// reason GET /status hides breaker partition keys: they may name tenants
// or clients, and are needed only to operate them.
var operatorOnlyAttrs = map[string]bool{"partition_key": true}

type auditEntry struct {
	time                           time.Time
	actor, action, access, outcome string
	attrs                          []slog.Attr
}

// auditRing holds the latest writes, newest last. It is safe for
// concurrent use; a write takes its mutex once, after the handler ran.
type auditRing struct {
	mu      sync.Mutex
	entries [auditRingSize]auditEntry
	next    int // index of the slot the next record takes
	n       int // records held, at most auditRingSize
}

func (a *auditRing) add(e auditEntry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries[a.next] = e
	a.next = (a.next + 1) % auditRingSize
	a.n = min(a.n+1, auditRingSize)
}

// latest returns up to limit records, newest first.
func (a *auditRing) latest(limit int) []auditEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := min(limit, a.n)
	out := make([]auditEntry, n)
	for i := range n {
		out[i] = a.entries[(a.next-1-i+2*auditRingSize)%auditRingSize]
	}
	return out
}

// auditView is one record of GET /audit. Reason is the write's reason when
// it had one; Detail its other attributes as "key=value" pairs.
type auditView struct {
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Access  string    `json:"access"`
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason,omitempty"`
	Detail  string    `json:"detail,omitempty"`
}

// auditList answers GET /audit?limit=N (default and maximum
// auditRingSize): the latest writes through this server, newest first,
// each with its actor and outcome. Records are kept in memory, per
// replica; the log keeps every one.
func (s *Server) auditList(r *http.Request, req *request) (any, []slog.Attr, *apiError) {
	limit := auditRingSize
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, nil, badRequest("limit", "limit must be a positive number")
		}
		limit = min(n, auditRingSize)
	}
	entries := s.ring.latest(limit)
	items := make([]auditView, len(entries))
	for i, e := range entries {
		v := auditView{Time: e.time, Actor: e.actor, Action: e.action, Access: e.access, Outcome: e.outcome}
		var detail []string
		for _, a := range e.attrs {
			switch {
			case a.Key == "reason":
				v.Reason = a.Value.String()
			case operatorOnlyAttrs[a.Key] && req.access < AccessOperator, a.Value.String() == "":
			default:
				detail = append(detail, a.Key+"="+a.Value.String())
			}
		}
		v.Detail = strings.Join(detail, " ")
		items[i] = v
	}
	return struct {
		Items []auditView `json:"items"`
	}{items}, nil, nil
}
