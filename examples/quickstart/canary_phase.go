package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/blastradius"
	"github.com/baldur-go/baldur/canary"
	"github.com/baldur-go/baldur/notify"
	"github.com/baldur-go/baldur/registry"
)

// canaryPhase rolls out the most dangerous kind of change, a throttle set
// ten times too tight, as a canary on half of the tenants: the judge sees
// the candidate's cohort rejecting far more than the baseline's and rolls
// it back by itself, while the baseline's tenants are served throughout.
// It returns the expectations that were not met.
func canaryPhase(out io.Writer, reg *registry.Registry, lg *loadgen) []string {
	const name = "9. canary: per_tenant throttle 10x tighter on 50 % of tenants, judged every 250 ms, auto-rollback after 2 failed windows"
	failed := func(err error) []string {
		fmt.Fprintf(out, "   unexpected: %v\n", err)
		return []string{name + ": " + err.Error()}
	}
	fmt.Fprintf(out, "\n%s\n", name)
	snapshot := reg.Document()
	candidate, err := tighterThrottle(snapshot, 10)
	if err != nil {
		return failed(err)
	}
	local, err := canary.NewLocal(canary.LocalConfig{Target: reg, Replica: "quickstart"})
	if err != nil {
		return failed(err)
	}
	blast, err := blastradius.New(blastradius.Config{Windows: []blastradius.Window{blastradius.AnyTime}, GlobalMaxTraffic: 0.5,
		Scopes: map[blastradius.Scope]blastradius.ScopeLimits{blastradius.ScopeService: {Approval: blastradius.AutoApprove}}})
	if err != nil {
		return failed(err)
	}
	notes := &printNotifier{out: out}
	svc, err := canary.New(canary.Config{
		StageDuration: baldur.Duration(2 * time.Second), Window: baldur.Duration(250 * time.Millisecond), MinRequests: 50,
		AutoRollback: true, FailLimit: 2,
		// A busy machine may starve a window of calls: an inconclusive
		// window must not pause the demo before the judge sees the
		// rejections.
		InconclusiveLimit: 1000,
		Applier:           local, Governance: reg.Governance.Get(), Blast: blast, Service: reg.Service(), Notify: notes,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return failed(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	op := canary.Op{Actor: "quickstart", Reason: "demo: tighten per_tenant"}
	st, err := svc.Create(ctx, canary.Plan{Candidate: candidate, Stages: []canary.Stage{{Share: 0.5}, {Share: 1}}}, op)
	if err != nil {
		return failed(err)
	}
	if st, err = svc.Start(ctx, st.RolloutID, op); err != nil {
		return failed(err)
	}
	go svc.Run(ctx, 50*time.Millisecond)

	flows, err := cohortFlows(reg.InCandidate, tenantsPerCohort)
	if err != nil {
		return failed(err)
	}
	// Twice a phase's length: the judge needs two failed windows after the
	// stage is acknowledged, on a machine that may be busy.
	tally := lg.drive(flows, 2*phaseLength)
	cancel()
	tally.print(out)
	final, err := svc.Get(context.Background(), st.RolloutID)
	if err != nil {
		return failed(err)
	}
	fmt.Fprintf(out, "   rollout %s: %s", final.RolloutID, final.Current)
	if v := final.Verdict; v != nil {
		fmt.Fprintf(out, ", last verdict %s: candidate %d calls, %.0f %% rejected; baseline %d calls, %.0f %% rejected",
			v.Verdict, v.Candidate.Requests, 100*v.Candidate.RejectionRate, v.Baseline.Requests, 100*v.Baseline.RejectionRate)
	}
	fmt.Fprintln(out)

	var msgs []string
	for _, e := range []expect{{row: canaryRow, reason: "throttled"}, {row: baselineRow, admittedOnly: true}} {
		if msg := e.check(tally); msg != "" {
			msgs = append(msgs, msg)
		}
	}
	if final.Current != canary.RolledBack {
		msgs = append(msgs, "rollout is "+final.Current.String()+", want rolled_back")
	}
	if string(reg.Document()) != string(snapshot) {
		msgs = append(msgs, "the configuration after the rollback differs from the snapshot")
	}
	if _, split := reg.CohortShare(); split {
		msgs = append(msgs, "the cohort split is still installed")
	}
	var unmet []string
	for _, m := range msgs {
		fmt.Fprintf(out, "   unexpected: %s\n", m)
		unmet = append(unmet, name+": "+m)
	}
	return unmet
}

// tenantsPerCohort is how many tenants of each cohort the canary phase
// drives, at 15 calls/s each: a 250 ms window then holds about 75 calls of
// each cohort, above the judge's MinRequests of 50. Taking the first forty
// tenants instead left the split to the rollout's salt, and a split of 11
// to 29 starved every window of the smaller cohort: the judge found them
// all inconclusive and never rolled back.
const tenantsPerCohort = 20

// The canary phase's rows, one per cohort.
const (
	baselineRow = "standard (baseline cohort)"
	canaryRow   = "standard (canary cohort)"
)

// cohortFlows returns the flows of n tenants in the candidate cohort and n
// in the baseline, taking tenants t0, t1, ... in order as inCandidate
// places them.
func cohortFlows(inCandidate func(string) bool, n int) ([]flow, error) {
	tenants, err := tenantsOf([]bool{false, true}, n, func(i int) string { return "t" + strconv.Itoa(i) }, inCandidate)
	if err != nil {
		return nil, err
	}
	flows := make([]flow, len(tenants))
	for i, tenant := range tenants {
		row := baselineRow
		if inCandidate(tenant) {
			row = canaryRow
		}
		flows[i] = flow{row: row, method: "GET", path: "/api/items/1", tenant: tenant, rate: 15}
	}
	return flows, nil
}

// tighterThrottle returns doc with the per_tenant throttle's rate and burst
// divided by f.
func tighterThrottle(doc []byte, f float64) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, err
	}
	ths, _ := m["throttles"].(map[string]any)
	th, ok := ths["per_tenant"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("no per_tenant throttle to tighten")
	}
	rate, _ := th["rate"].(float64)
	burst, _ := th["burst"].(float64)
	th["rate"], th["burst"] = rate/f, max(1, burst/f)
	return json.Marshal(m)
}

// printNotifier prints the rollout's notifications as they come.
type printNotifier struct{ out io.Writer }

func (p *printNotifier) Notify(_ context.Context, n notify.Notification) (notify.Result, error) {
	fmt.Fprintf(p.out, "   notify %s: %s\n", n.Priority, n.Title)
	return notify.Result{Delivered: true}, nil
}
