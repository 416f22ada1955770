package admin

import (
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/registry"
)

type statusView struct {
	ConfigVersion uint64              `json:"config_version"`
	Service       string              `json:"service,omitempty"`
	Region        string              `json:"region,omitempty"`
	Policies      []string            `json:"policies"`
	Slots         []slotView          `json:"slots"`
	Governance    governanceView      `json:"governance"`
	Emergency     *emergencyView      `json:"emergency"`
	Budget        *budgetView         `json:"budget"`
	Bulkheads     []bulkheadView      `json:"bulkheads"`
	Breakers      []policyBreakerView `json:"breakers"`
	// Warnings name the parts of the state that could not be read.
	Warnings []string `json:"warnings,omitempty"`
}

type slotView struct {
	Name    string `json:"name"`
	Set     bool   `json:"set"`
	Default bool   `json:"default"`
}

type governanceView struct {
	// Checker is true when the governance slot holds a checker with
	// switches an operator can throw (a governance.Switchboard), false for
	// the NoOp default.
	Checker       bool             `json:"checker"`
	SystemEnabled bool             `json:"system_enabled"`
	BreakGlass    bool             `json:"break_glass"`
	KillSwitches  []killSwitchView `json:"kill_switches"`
}

type budgetView struct {
	Target       float64        `json:"target"`
	Window       string         `json:"window"`
	Total        uint64         `json:"total"`
	Failed       uint64         `json:"failed"`
	RemainingPct float64        `json:"remaining_pct"`
	BurnRates    []burnRateView `json:"burn_rates"`
}

type burnRateView struct {
	Window string  `json:"window"`
	Rate   float64 `json:"rate"`
}

type bulkheadView struct {
	Name          string     `json:"name"`
	Kind          string     `json:"kind"`
	MaxConcurrent int        `json:"max_concurrent"`
	Active        int        `json:"active"`
	Waiting       int        `json:"waiting"`
	Rejected      uint64     `json:"rejected"`
	LastRejection *time.Time `json:"last_rejection,omitempty"`
	Utilization   float64    `json:"utilization"`
}

type policyBreakerView struct {
	Policy string `json:"policy"`
	// Open counts the partitions that are open, half-open or forced.
	Open int `json:"open"`
	// Partitions lists them, for OPERATOR and above only: partition keys
	// may name tenants or clients, and are needed only to operate them.
	Partitions []partitionView `json:"partitions,omitempty"`
}

// status answers GET /status. Each part is read on its own; one that fails
// is named in warnings and the rest is still served.
func (s *Server) status(r *http.Request, req *request) (any, []slog.Attr, *apiError) {
	ctx := r.Context()
	reg := s.cfg.Registry
	v := statusView{
		ConfigVersion: reg.Version(),
		Service:       reg.Service(),
		Region:        reg.Region(),
		Policies:      nonNil(reg.PolicyNames()),
		Slots:         slots(reg),
		Bulkheads:     []bulkheadView{},
		Breakers:      []policyBreakerView{},
	}

	gov := reg.Governance.Get()
	v.Governance.KillSwitches = []killSwitchView{}
	if gov != nil {
		v.Governance.SystemEnabled = gov.SystemEnabled(ctx)
		// Break glass shows in any check's result; this one skips every
		// check and the audit, so it only reads the cached evaluation.
		v.Governance.BreakGlass = gov.CheckAll(ctx, baldur.GovernanceRequest{
			SkipKillSwitch: true, SkipEmergency: true, SkipErrorBudget: true, SkipAudit: true,
		}).BreakGlass
	}
	if c, e := s.checker(); e == nil {
		v.Governance.Checker = true
		kss, err := c.KillSwitches(ctx)
		if err != nil {
			v.Warnings = append(v.Warnings, "kill switches unreadable")
		}
		for _, ks := range kss {
			v.Governance.KillSwitches = append(v.Governance.KillSwitches, viewKillSwitch(ks))
		}
	}

	if em, ok := reg.Emergency.SafeGet(); ok && em != nil {
		if st, err := em.State(ctx); err != nil {
			v.Warnings = append(v.Warnings, "emergency state unreadable")
		} else {
			ev := viewEmergency(st)
			v.Emergency = &ev
		}
	}

	if b, ok := reg.ErrorBudgetService.SafeGet(); ok && b != nil {
		st := b.Status(s.clock.Now())
		bv := &budgetView{Target: finite(st.Target), Window: st.Window.String(), Total: st.Total, Failed: st.Failed,
			RemainingPct: finite(st.RemainingPct), BurnRates: make([]burnRateView, 0, len(st.BurnRates))}
		for _, br := range st.BurnRates {
			bv.BurnRates = append(bv.BurnRates, burnRateView{Window: br.Window.String(), Rate: finite(br.Rate)})
		}
		v.Budget = bv
	}

	if bh, ok := reg.Bulkheads.SafeGet(); ok && bh != nil {
		for _, st := range bh.States() {
			v.Bulkheads = append(v.Bulkheads, bulkheadView{Name: st.Name, Kind: st.Kind, MaxConcurrent: st.MaxConcurrent,
				Active: st.Active, Waiting: st.Waiting, Rejected: st.Rejected, LastRejection: timeOrNil(st.LastRejection),
				Utilization: finite(st.Utilization)})
		}
	}

	showKeys := req.access >= AccessOperator
	for _, name := range v.Policies {
		bs, _ := s.policyBreakers(name)
		if len(bs) == 0 {
			continue
		}
		pv := policyBreakerView{Policy: name}
		for _, b := range bs {
			open := b.OpenPartitions()
			pv.Open += len(open)
			if !showKeys {
				continue
			}
			for _, ps := range open {
				pv.Partitions = append(pv.Partitions, partitionView{Key: ps.Key, Operation: ps.Operation,
					State: ps.State, Until: timeOrNil(ps.Until)})
			}
		}
		v.Breakers = append(v.Breakers, pv)
	}
	return v, nil, nil
}

func slots(reg *registry.Registry) []slotView {
	infos := reg.Slots()
	out := make([]slotView, len(infos))
	for i, si := range infos {
		out[i] = slotView{Name: si.Name, Set: si.Set, Default: si.Default}
	}
	return out
}

// finite keeps a NaN or an infinity (which JSON cannot carry) out of the
// answer.
func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}
