package interceptor

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/tap"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/registry"
)

const splitMethod = "/shop.Items/Get"

// splitDoc is a registry configuration whose one policy guards splitMethod
// with a per-key throttle of rate and burst.
func splitDoc(t *testing.T, rate float64, burst int) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"throttles": map[string]any{"per_tenant": map[string]any{"rate": rate, "burst": burst}},
		"policies":  []any{map[string]any{"name": "items", "operations": []string{splitMethod}, "throttle": "per_tenant"}},
	})
	require.NoError(t, err)
	return b
}

// splitRegistry is a registry with a canary split installed at half the
// keys, whose cohorts' policies end in base and cand; it returns a key of
// each cohort.
func splitRegistry(t *testing.T) (r *registry.Registry, base, cand *fakeGate, baseKey, candKey string) {
	t.Helper()
	r = registry.New()
	require.NoError(t, r.LoadDocument(splitDoc(t, 1000, 1000)))
	base, cand = newGate(baldur.StageFault+10), newGate(baldur.StageFault+10)
	require.NoError(t, r.StartCohorts(splitDoc(t, 100, 100), "rollout-1", 0.5, base, cand))
	for i := 0; baseKey == "" || candKey == ""; i++ {
		k := "tenant-" + strconv.Itoa(i)
		if r.InCandidate(k) {
			candKey = k
		} else {
			baseKey = k
		}
	}
	return r, base, cand, baseKey, candKey
}

type tenantKey struct{}

func tenantOf(ctx context.Context, _ string) string {
	k, _ := ctx.Value(tenantKey{}).(string)
	return k
}

type nopClientStream struct{ grpc.ClientStream }

// splitStream is the transport stream of a call to splitMethod, where a
// Limiter reads the method.
type splitStream struct{ grpc.ServerTransportStream }

func (splitStream) Method() string { return splitMethod }

// Every adapter resolves a registry (a baldur.KeyedResolver) with the
// call's key: during a canary split a key of the candidate's cohort is
// admitted by the candidate's policy and any other by the running one.
func TestKeyedResolverPicksTheKeysPolicy(t *testing.T) {
	t.Parallel()
	adapters := map[string]func(r baldur.Resolver, ctx context.Context){
		"unary server": func(r baldur.Resolver, ctx context.Context) {
			_, err := UnaryServerInterceptor(r, WithKey(tenantOf))(ctx, nil, &grpc.UnaryServerInfo{FullMethod: splitMethod}, noopHandler)
			require.NoError(t, err)
		},
		"stream server": func(r baldur.Resolver, ctx context.Context) {
			err := StreamServerInterceptor(r, WithKey(tenantOf))(nil, fakeServerStream{ctx: ctx}, &grpc.StreamServerInfo{FullMethod: splitMethod},
				func(any, grpc.ServerStream) error { return nil })
			require.NoError(t, err)
		},
		"unary client": func(r baldur.Resolver, ctx context.Context) {
			err := UnaryClientInterceptor(r, WithKey(tenantOf))(ctx, splitMethod, nil, nil, nil,
				func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil })
			require.NoError(t, err)
		},
		"stream client": func(r baldur.Resolver, ctx context.Context) {
			_, err := StreamClientInterceptor(r, WithKey(tenantOf))(ctx, &grpc.StreamDesc{}, nil, splitMethod,
				func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
					return nopClientStream{}, nil
				})
			require.NoError(t, err)
		},
		"tap handle": func(r baldur.Resolver, ctx context.Context) {
			_, err := InHandle(r, WithKey(tenantOf))(ctx, &tap.Info{FullMethodName: splitMethod})
			require.NoError(t, err)
		},
		"limiter": func(r baldur.Resolver, ctx context.Context) {
			ctx = grpc.NewContextWithServerTransportStream(ctx, splitStream{})
			require.NoError(t, NewLimiter(r, WithKey(tenantOf)).Limit(ctx))
		},
	}
	for name, call := range adapters {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, base, cand, baseKey, candKey := splitRegistry(t)
			for _, k := range []string{baseKey, candKey} {
				call(r, context.WithValue(context.Background(), tenantKey{}, k))
			}
			keys := func(g *fakeGate) []string {
				g.mu.Lock()
				defer g.mu.Unlock()
				var ks []string
				for _, c := range g.seen {
					ks = append(ks, c.Key)
				}
				return ks
			}
			assert.Equal(t, []string{candKey}, keys(cand), "the candidate's cohort is admitted by the candidate's policy")
			assert.Equal(t, []string{baseKey}, keys(base), "the other keys by the running policy")
		})
	}
}

// Resolving by key allocates nothing, with or without a split installed.
func TestKeyedResolverAllocs(t *testing.T) {
	r := registry.New()
	require.NoError(t, r.LoadDocument(splitDoc(t, 1e9, 1e9)))
	ui := UnaryServerInterceptor(r, WithKey(tenantOf))
	si := StreamServerInterceptor(r, WithKey(tenantOf))
	ci := UnaryClientInterceptor(r, WithKey(tenantOf))
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	shandler := func(any, grpc.ServerStream) error { return nil }
	uinfo, sinfo := &grpc.UnaryServerInfo{FullMethod: splitMethod}, &grpc.StreamServerInfo{FullMethod: splitMethod}
	check := func(name string) {
		for _, k := range []string{"tenant-1", "tenant-2", "tenant-3", "tenant-4"} {
			ctx := context.WithValue(context.Background(), tenantKey{}, k)
			ss := grpc.ServerStream(fakeServerStream{ctx: ctx})
			_, _ = ui(ctx, nil, uinfo, noopHandler) // the key's bucket
			n := testing.AllocsPerRun(100, func() { _, _ = ui(ctx, nil, uinfo, noopHandler) })
			assert.Zero(t, n, "%s: unary server, %s", name, k)
			n = testing.AllocsPerRun(100, func() { _ = si(nil, ss, sinfo, shandler) })
			assert.Zero(t, n, "%s: stream server, %s", name, k)
			n = testing.AllocsPerRun(100, func() { _ = ci(ctx, splitMethod, nil, nil, nil, invoker) })
			assert.Zero(t, n, "%s: unary client, %s", name, k)
		}
	}
	check("no split")
	require.NoError(t, r.StartCohorts(splitDoc(t, 1e8, 1e8), "rollout-1", 0.5, nil, nil))
	check("split")
}
