package admin

import (
	"log/slog"
	"net/http"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/governance"
)

// thresholder is the read-only side of governance.BudgetDecider: the
// thresholds that apply, without deciding (Check keeps hysteresis state
// that a read must not move).
type thresholder interface {
	Threshold(tier baldur.Tier, region string) governance.Threshold
}

type tierBudgetView struct {
	Tier         string   `json:"tier"`
	RemainingPct float64  `json:"remaining_pct"`
	BlockPct     *float64 `json:"block_pct,omitempty"`
	WarnPct      *float64 `json:"warn_pct,omitempty"`
	// State is "ok", "warning" or "blocked" by the thresholds alone; the
	// gate adds hysteresis on recovery.
	State string `json:"state,omitempty"`
}

type budgetTiersView struct {
	*budgetView
	Region string           `json:"region,omitempty"`
	Items  []tierBudgetView `json:"items"`
}

// budget answers GET /budget: the error budget (as in GET /status) and,
// per tier, the remaining share against the thresholds of the service's
// region. 404 without an error-budget service.
func (s *Server) budget(_ *http.Request, _ *request) (any, []slog.Attr, *apiError) {
	reg := s.cfg.Registry
	b, ok := reg.ErrorBudgetService.SafeGet()
	if !ok || b == nil {
		return nil, nil, &apiError{status: http.StatusNotFound, msg: "no error budget configured"}
	}
	st := b.Status(s.clock.Now())
	bv := &budgetView{Target: finite(st.Target), Window: st.Window.String(), Total: st.Total, Failed: st.Failed,
		RemainingPct: finite(st.RemainingPct), BurnRates: make([]burnRateView, 0, len(st.BurnRates))}
	for _, br := range st.BurnRates {
		bv.BurnRates = append(bv.BurnRates, burnRateView{Window: br.Window.String(), Rate: finite(br.Rate)})
	}
	v := budgetTiersView{budgetView: bv, Region: reg.Region(), Items: []tierBudgetView{}}
	th, _ := reg.ErrorBudgetDecider.Get().(thresholder)
	for _, tier := range baldur.Tiers() {
		tv := tierBudgetView{Tier: tier.String(), RemainingPct: bv.RemainingPct}
		if th != nil {
			t := th.Threshold(tier, reg.Region())
			tv.BlockPct, tv.WarnPct = ptr(t.BlockPct), ptr(t.WarnPct)
			switch {
			case bv.RemainingPct < t.BlockPct:
				tv.State = "blocked"
			case bv.RemainingPct < t.WarnPct:
				tv.State = "warning"
			default:
				tv.State = "ok"
			}
		}
		v.Items = append(v.Items, tv)
	}
	return v, nil, nil
}
