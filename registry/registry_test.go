package registry_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/registry"
)

// countingGate tracks permits in flight and releases.
type countingGate struct {
	inflight atomic.Int64
	released atomic.Int64
}

func (g *countingGate) Stage() baldur.Stage { return baldur.StageBulkhead }

func (g *countingGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	g.inflight.Add(1)
	return baldur.NewPermit(g, 0), nil
}

func (g *countingGate) Release(uint64, baldur.Outcome) {
	g.inflight.Add(-1)
	g.released.Add(1)
}

func newPolicy(t testing.TB, name string, gates ...baldur.Gate) *baldur.Policy {
	t.Helper()
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: name, Gates: gates})
	require.NoError(t, err)
	return p
}

type fakeGovernance struct{ baldur.NoOpGovernance }

func (fakeGovernance) SystemEnabled(context.Context) bool { return false }

func TestSlots(t *testing.T) {
	t.Parallel()
	r := registry.New()

	gov, ok := r.Governance.SafeGet()
	require.True(t, ok, "governance has a pre-registered NoOp")
	assert.True(t, gov.SystemEnabled(context.Background()))
	assert.False(t, r.Governance.IsSet())

	_, ok = r.AdminIdentity.SafeGet()
	assert.False(t, ok, "admin identity exists only with a real implementation")
	assert.Nil(t, r.AdminIdentity.Get())

	restore := r.Governance.Override(fakeGovernance{})
	assert.False(t, r.Governance.Get().SystemEnabled(context.Background()))
	restore()
	assert.True(t, r.Governance.Get().SystemEnabled(context.Background()))
	assert.False(t, r.Governance.IsSet(), "restore brings back the unset state")

	r.Governance.Set(fakeGovernance{})
	assert.True(t, r.Governance.IsSet())
	r.Governance.Unset()
	assert.True(t, r.Governance.Get().SystemEnabled(context.Background()))

	names := map[string]registry.SlotInfo{}
	for _, s := range r.Slots() {
		names[s.Name] = s
	}
	assert.True(t, names["governance"].Default)
	assert.False(t, names["admin_identity_resolver"].Default)
	want := []string{"admin_identity_resolver", "bulkhead_registry", "emergency_manager", "error_budget_decider", "error_budget_service", "governance"}
	got := make([]string, 0, len(names))
	for _, s := range r.Slots() {
		got = append(got, s.Name)
	}
	assert.Equal(t, want, got, "every slot has a reader in admin, metrics or the request path; a service adds its own when it has one")
}

func TestPolicyResolution(t *testing.T) {
	t.Parallel()
	r := registry.New()
	assert.Nil(t, r.Policy("GET /x"), "an empty registry guards nothing")

	api, grpcAll, admin, def := newPolicy(t, "api"), newPolicy(t, "grpc"), newPolicy(t, "admin"), newPolicy(t, "default")
	require.NoError(t, r.Apply(registry.Spec{
		Policies: []*baldur.Policy{api, grpcAll, admin, def},
		Routes: map[string]string{
			"GET /items/{id}":   "api",
			"/shop.Cart/*":      "grpc",
			"/shop.Cart/Admin*": "admin",
			"POST /orders":      "api",
		},
		Default: "default",
	}))
	tests := []struct {
		op   string
		want *baldur.Policy
	}{
		{"GET /items/{id}", api},
		{"POST /orders", api},
		{"/shop.Cart/Get", grpcAll},
		{"/shop.Cart/AdminReset", admin},
		{"/other.Svc/Get", def},
		{"", def},
	}
	for range 2 { // second round hits the cache
		for _, tc := range tests {
			assert.Same(t, tc.want, r.Policy(tc.op), tc.op)
		}
	}
	p, ok := r.PolicyByName("grpc")
	assert.True(t, ok)
	assert.Same(t, grpcAll, p)
	assert.Equal(t, []string{"admin", "api", "default", "grpc"}, r.PolicyNames())
}

func TestApplyErrorsKeepPreviousTable(t *testing.T) {
	t.Parallel()
	r := registry.New()
	good := newPolicy(t, "good")
	require.NoError(t, r.Apply(registry.Spec{Policies: []*baldur.Policy{good}, Default: "good"}))
	v := r.Version()
	tests := []struct {
		name  string
		spec  registry.Spec
		field string
	}{
		{"duplicate name", registry.Spec{Policies: []*baldur.Policy{newPolicy(t, "a"), newPolicy(t, "a")}}, "policies[1].name"},
		{"unknown route policy", registry.Spec{Policies: []*baldur.Policy{newPolicy(t, "a")}, Routes: map[string]string{"GET /x": "b"}}, "routes[GET /x]"},
		{"unknown default", registry.Spec{Policies: []*baldur.Policy{newPolicy(t, "a")}, Default: "zzz"}, "default_policy"},
		{"empty operation", registry.Spec{Policies: []*baldur.Policy{newPolicy(t, "a")}, Routes: map[string]string{"": "a"}}, "operation"},
		{"bad mux pattern", registry.Spec{Policies: []*baldur.Policy{newPolicy(t, "a")}, Routes: map[string]string{"GET /x/{": "a"}}, "operation"},
		{"double star", registry.Spec{Policies: []*baldur.Policy{newPolicy(t, "a")}, Routes: map[string]string{"/a/**": "a"}}, "operation"},
		{"nil policy", registry.Spec{Policies: []*baldur.Policy{nil}}, "policies[0]"},
	}
	for _, tc := range tests {
		err := r.Apply(tc.spec)
		var ce *baldur.ConfigError
		require.True(t, errors.As(err, &ce), "%s: %v", tc.name, err)
		assert.Equal(t, tc.field, ce.Field, tc.name)
		assert.Same(t, good, r.Policy("anything"), "failed apply must leave the previous table serving")
		assert.Equal(t, v, r.Version())
	}
}

// Permits taken under one table are released into the gates that granted
// them, however many swaps happen in between.
func TestNoPermitLostAcrossSwaps(t *testing.T) {
	t.Parallel()
	r := registry.New()
	gates := make([]*countingGate, 8)
	for i := range gates {
		gates[i] = &countingGate{}
	}
	apply := func(i int) {
		p := newPolicy(t, fmt.Sprintf("p%d", i), gates[i%len(gates)])
		require.NoError(t, r.Apply(registry.Spec{Policies: []*baldur.Policy{p}, Routes: map[string]string{"op": p.Name()}}))
	}
	apply(0)
	var wg sync.WaitGroup
	var admitted atomic.Int64
	stop := make(chan struct{})
	for range 16 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				tk, err := r.Policy("op").Admit(context.Background(), baldur.Call{Operation: "op"})
				if !assert.NoError(t, err) {
					return
				}
				admitted.Add(1)
				tk.Release(baldur.Outcome{})
				tk.Release(baldur.Outcome{}) // idempotent
			}
		})
	}
	for i := 1; i <= 200; i++ {
		apply(i)
	}
	close(stop)
	wg.Wait()
	var released int64
	for _, g := range gates {
		assert.Zero(t, g.inflight.Load(), "permits still held")
		released += g.released.Load()
	}
	assert.Equal(t, admitted.Load(), released, "every admitted call released exactly once")
}

func TestResolveAllocatesNothing(t *testing.T) {
	r := registry.New()
	p := newPolicy(t, "p", &countingGate{})
	require.NoError(t, r.Apply(registry.Spec{Policies: []*baldur.Policy{p}, Routes: map[string]string{"GET /a": "p", "/svc/*": "p"}}))
	r.Policy("/svc/M") // fill the cache
	n := testing.AllocsPerRun(1000, func() {
		_ = r.Policy("GET /a")
		_ = r.Policy("/svc/M")
	})
	assert.Zero(t, n)
}

func TestPatternCacheIsBounded(t *testing.T) {
	t.Parallel()
	r := registry.New()
	p := newPolicy(t, "p")
	require.NoError(t, r.Apply(registry.Spec{Policies: []*baldur.Policy{p}, Routes: map[string]string{"/svc/*": "p"}}))
	for i := range 20000 {
		want := p
		op := fmt.Sprintf("/svc/%d", i)
		if i%2 == 1 {
			op, want = fmt.Sprintf("/other/%d", i), nil
		}
		require.Same(t, want, r.Policy(op))
	}
}

func FuzzValidateOperation(f *testing.F) {
	for _, s := range []string{"GET /items/{id}", "/pkg.Svc/*", "", " x", "GET /{a}/{a}", "/x/{y...}/z", "\x00", "**"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, op string) {
		err := registry.ValidateOperation(op)
		if err != nil {
			var ce *baldur.ConfigError
			require.ErrorAs(t, err, &ce, "error is not a ConfigError")
			return
		}
		// A valid operation can be routed.
		r := registry.New()
		p, _ := baldur.NewPolicy(baldur.PolicyConfig{Name: "p"})
		require.NoError(t, r.Apply(registry.Spec{Policies: []*baldur.Policy{p}, Routes: map[string]string{op: "p"}}), "valid operation %q rejected by Apply", op)
		require.Same(t, p, r.Policy(op), "operation %q does not resolve to its own route", op)
	})
}
