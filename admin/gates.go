package admin

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/baldur-go/baldur"
)

// gateView is one gate of one policy in GET /policies, flat so a table can
// show it: the fields of the capabilities the gate has are set, the others
// left out.
type gateView struct {
	Policy string `json:"policy"`
	Stage  string `json:"stage"`
	Kind   string `json:"kind"`
	Shadow bool   `json:"shadow,omitempty"`
	// Rejected counts the policy's rejections for the reasons of this
	// gate's stage.
	Rejected uint64 `json:"rejected"`
	// Throttle: its standard tier's quota ("100/1s"), keys tracked and
	// the key table's capacity, store errors and fail-mode decisions.
	Quota          string  `json:"quota,omitempty"`
	Keys           *int    `json:"keys,omitempty"`
	KeyCap         *int    `json:"key_cap,omitempty"`
	StoreErrors    *uint64 `json:"store_errors,omitempty"`
	StoreFallbacks *uint64 `json:"store_fallbacks,omitempty"`
	// Share cap: in-flight calls one key may hold.
	ShareLimit *int `json:"share_limit,omitempty"`
	// Breaker: partitions tracked and those open, half-open or forced.
	Partitions *int `json:"partitions,omitempty"`
	Open       *int `json:"open,omitempty"`
	// Bulkhead: calls in flight and waiting over the capacity of its
	// compartments, and the fullest compartment's utilization (0..1).
	Active      *int     `json:"active,omitempty"`
	Waiting     *int     `json:"waiting,omitempty"`
	Capacity    *int     `json:"capacity,omitempty"`
	Utilization *float64 `json:"utilization,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// policies answers GET /policies: every gate of every policy with its live
// state, read through the capability interfaces of package baldur (and
// Limit and StoreFallbacks where a gate has them), so a new kind of gate
// shows without a change here. It reads counters only: no call is
// admitted, no bucket or breaker is touched.
func (s *Server) policies(_ *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	reg := s.cfg.Registry
	items := []gateView{}
	for _, name := range reg.PolicyNames() {
		p, ok := reg.PolicyByName(name)
		if !ok {
			continue // removed by a reload since PolicyNames
		}
		for _, g := range p.Gates() {
			items = append(items, viewGate(p, g))
		}
	}
	return struct {
		Items []gateView `json:"items"`
	}{items}, nil, nil
}

func viewGate(p *baldur.Policy, g baldur.Gate) gateView {
	stage := g.Stage()
	v := gateView{Policy: p.Name(), Stage: stage.String(), Kind: strings.TrimPrefix(fmt.Sprintf("%T", g), "*")}
	for _, r := range baldur.Reasons() {
		if r.Stage() == stage {
			v.Rejected += p.Rejected(r)
		}
	}
	if q, ok := g.(baldur.QuotaReporter); ok {
		if qt, ok := q.Quota(baldur.TierStandard); ok {
			v.Quota = strconv.FormatInt(qt.Limit, 10) + "/" + qt.Window.String()
		}
	}
	if k, ok := g.(baldur.KeyReporter); ok {
		ks := k.KeyStats()
		v.Keys = ptr(ks.Keys)
		if stage == baldur.StageThrottle {
			v.KeyCap, v.StoreErrors = ptr(ks.Cap), ptr(ks.StoreErrors)
		}
	}
	if f, ok := g.(interface{ StoreFallbacks() uint64 }); ok {
		v.StoreFallbacks = ptr(f.StoreFallbacks())
	}
	if l, ok := g.(interface{ Limit() int }); ok && stage == baldur.StageBlast {
		v.ShareLimit = ptr(l.Limit())
	}
	if b, ok := g.(baldur.BreakerReporter); ok {
		v.Partitions, v.Open = ptr(b.Partitions()), ptr(len(b.OpenPartitions()))
	}
	if c, ok := g.(baldur.CompartmentReporter); ok {
		var active, waiting, capacity int
		var util float64
		for _, st := range c.CompartmentStates() {
			active += st.Active
			waiting += st.Waiting
			capacity += st.MaxConcurrent
			util = max(util, finite(st.Utilization))
		}
		v.Active, v.Waiting, v.Capacity, v.Utilization = &active, &waiting, &capacity, &util
	}
	return v
}
