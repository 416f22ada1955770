package interceptor

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/internal/localsock"
	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/throttle"
)

// unixServer serves the test service over a unix socket in t.TempDir(),
// guarded by a recording gate (governance runs first) and a throttle
// partitioned by key (burst 1, no refill under the fake clock).
func unixServer(t *testing.T, opts ...Option) (testpb.TestServiceClient, *fakeGate) {
	t.Helper()
	clk := clock.NewFake(baldurNow)
	th, err := throttle.New(throttle.Config{Name: "per_tenant", Rate: 0.001, Burst: 1, Clock: clk})
	require.NoError(t, err)
	g := newGate(baldur.StageGovernance)
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "uds", Gates: []baldur.Gate{g, th}, Clock: clk})
	require.NoError(t, err)
	opts = append(opts, WithClock(clk))
	srv := grpc.NewServer(grpc.UnaryInterceptor(UnaryServerInterceptor(baldur.Static(p), opts...)))
	testpb.RegisterTestServiceServer(srv, &testServer{})
	return testpb.NewTestServiceClient(serve(t, netUnix, srv)), g
}

// call makes one unary call as the gateway would, forwarding md pairs.
func udsCall(t *testing.T, client testpb.TestServiceClient, md ...string) codes.Code {
	t.Helper()
	ctx := context.Background()
	if len(md) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, md...)
	}
	_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{})
	return status.Code(err)
}

// A gateway on a unix socket forwards each tenant's key. Trusted, the keys
// partition the throttle; untrusted, every caller shares the empty key, so
// the second tenant is throttled by the first one's call.
func TestUnixSocketPeers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     []Option
		wantKeys []string
		wantTier baldur.Tier
		want     []codes.Code
	}{
		{"trusted local sockets", []Option{WithTrustedLocalSockets()},
			[]string{"tenant-a", "tenant-b", "tenant-a"}, baldur.TierCritical,
			[]codes.Code{codes.OK, codes.OK, codes.ResourceExhausted}},
		{"trusted ranges do not cover sockets", []Option{WithTrustedPeers(nil)},
			[]string{"", "", ""}, baldur.TierStandard,
			[]codes.Code{codes.OK, codes.ResourceExhausted, codes.ResourceExhausted}},
		{"untrusted by default", nil,
			[]string{"", "", ""}, baldur.TierStandard,
			[]codes.Code{codes.OK, codes.ResourceExhausted, codes.ResourceExhausted}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, g := unixServer(t, tt.opts...)
			for i, tenant := range []string{"tenant-a", "tenant-b", "tenant-a"} {
				code := udsCall(t, client, MetadataKey, tenant, MetadataTier, "critical")
				assert.Equal(t, tt.want[i], code, "call %d (%s)", i, tenant)
				c := g.lastCall(t)
				assert.Equal(t, tt.wantKeys[i], c.Key, "call %d", i)
				assert.Equal(t, tt.wantTier, c.Tier, "call %d", i)
			}
		})
	}
}

// Calls over a unix socket that only ever get the empty partition key are
// reported once, with what to do; a gateway that forwards keys is not. Not
// parallel: the warning is once per process, and parallel tests only run
// after this one.
func TestUnixSocketWarning(t *testing.T) {
	logs := &logtest.Buffer{}
	l := slog.New(slog.NewTextHandler(logs, nil))
	localSockets.Logger = func() *slog.Logger { return l }
	t.Cleanup(func() {
		localSockets.Logger = nil
		localSockets.Reset()
	})
	n := 2 * localsock.WarnAfter
	tests := []struct {
		name string
		opts []Option
		md   []string
		want string // the warning, or "" for none
	}{
		{"untrusted", nil, []string{MetadataKey, "tenant-a"}, "WithTrustedLocalSockets"},
		{"trusted without key metadata", []Option{WithTrustedLocalSockets()}, nil, "never sends the partition key metadata"},
		{"trusted gateway sends keys", []Option{WithTrustedLocalSockets()}, []string{MetadataKey, "tenant-a"}, ""},
		{"keyed by WithKey", []Option{WithKey(func(context.Context, string) string { return "k" })}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			localSockets.Reset()
			before := strings.Count(logs.String(), "level=WARN")
			client, _ := unixServer(t, tt.opts...)
			for range n {
				udsCall(t, client, tt.md...)
			}
			out := logs.String()
			warned := strings.Count(out, "level=WARN") - before
			if tt.want == "" {
				assert.Zero(t, warned, out)
				return
			}
			assert.Equal(t, 1, warned, "want one warning for %d calls: %s", n, out)
			assert.Contains(t, out, tt.want)
		})
	}
}

// A call from a unix-socket peer that gets the empty key (and is counted
// for the warning) costs no allocation; one whose key a trusted socket
// forwards costs what a trusted TCP gateway's does (grpc copies the
// metadata value).
func TestUnixSocketCallAllocs(t *testing.T) {
	t.Cleanup(localSockets.Reset)
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.UnixAddr{Name: "@", Net: "unix"}})
	keyed := metadata.NewIncomingContext(ctx, metadata.Pairs(MetadataKey, "tenant-a"))
	trusted := newConfig([]Option{WithTrustedLocalSockets()})
	untrusted := newConfig(nil)
	tcp := newConfig([]Option{WithTrustedPeers([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})})
	tcpKeyed := peerCtx("10.1.2.3:5000", MetadataKey, "tenant-a")
	tcpAllocs := testing.AllocsPerRun(100, func() { _ = tcp.serverCall(tcpKeyed, "/m", baldurNow) })
	n := testing.AllocsPerRun(100, func() { _ = trusted.serverCall(keyed, "/m", baldurNow) })
	assert.Equal(t, tcpAllocs, n, "trusted socket, keyed: allocs as a trusted TCP gateway's")
	for name, run := range map[string]func(){
		"untrusted":       func() { _ = untrusted.serverCall(keyed, "/m", baldurNow) },
		"trusted, no key": func() { _ = trusted.serverCall(ctx, "/m", baldurNow) },
	} {

		localSockets.Reset()
		localSockets.Logger = func() *slog.Logger { return slog.New(slog.DiscardHandler) }
		n := testing.AllocsPerRun(localsock.WarnAfter/2, run)
		assert.Zero(t, n, "%s: allocs", name)
		localSockets.Logger = nil
	}
}
