package interceptor

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/partition"
)

func peerCtx(addr string, md ...string) context.Context {
	ap := netip.MustParseAddrPort(addr)
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: net.TCPAddrFromAddrPort(ap)})
	if len(md) > 0 {
		ctx = metadata.NewIncomingContext(ctx, metadata.Pairs(md...))
	}
	return ctx
}

func TestKeyAndTierFromTrustedPeersOnly(t *testing.T) {
	t.Parallel()
	trusted := WithTrustedPeers([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")})
	long := strings.Repeat("k", 1000)
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		opts     []Option
		wantKey  string
		wantTier baldur.Tier
	}{
		{"untrusted peer keyed by IP", peerCtx("203.0.113.7:5000", MetadataKey, "tenant-a", MetadataTier, "critical"),
			[]Option{trusted}, "203.0.113.7", baldur.TierStandard},
		{"no trusted ranges", peerCtx("10.1.2.3:5000", MetadataKey, "tenant-a", MetadataTier, "critical"),
			nil, "10.1.2.3", baldur.TierStandard},
		{"trusted gateway", peerCtx("10.1.2.3:5000", MetadataKey, "tenant-a", MetadataTier, "critical"),
			[]Option{trusted}, "tenant-a", baldur.TierCritical},
		{"trusted v6 gateway", peerCtx("[fd00::1]:5000", MetadataTier, "non_essential"),
			[]Option{trusted}, "fd00::1", baldur.TierNonEssential},
		{"v4-mapped peer matches v4 range", peerCtx("[::ffff:10.0.0.9]:1", MetadataKey, "t"),
			[]Option{trusted}, "t", baldur.TierStandard},
		{"unknown tier ignored", peerCtx("10.1.2.3:5000", MetadataTier, "platinum"),
			[]Option{trusted}, "10.1.2.3", baldur.TierStandard},
		{"long key truncated", peerCtx("10.1.2.3:5000", MetadataKey, long),
			[]Option{trusted}, long[:partition.MaxKeyLen], baldur.TierStandard},
		{"custom metadata names", peerCtx("10.1.2.3:5000", "x-tenant", "t9", "x-prio", "critical"),
			[]Option{trusted, WithKeyMetadata("X-Tenant"), WithTierMetadata("x-prio")}, "t9", baldur.TierCritical},
		{"no peer", context.Background(), []Option{trusted}, "", baldur.TierStandard},
		{"WithKey and WithTier replace the defaults", peerCtx("10.1.2.3:5000", MetadataKey, "tenant-a"),
			[]Option{trusted,
				WithKey(func(context.Context, string) string { return "mine" }),
				WithTier(func(_ context.Context, m string) baldur.Tier { return baldur.TierNonEssential })},
			"mine", baldur.TierNonEssential},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGate(baldur.StageThrottle)
			opts := append(tc.opts, WithService("svc"), WithRegion("eu"), WithDomain("pay"))
			_, err := UnaryServerInterceptor(baldur.Static(policyOf(t, g)), opts...)(tc.ctx, nil,
				&grpc.UnaryServerInfo{FullMethod: "/s/M"}, func(context.Context, any) (any, error) { return nil, nil })
			require.NoError(t, err)
			c := g.lastCall(t)
			require.Equal(t, tc.wantKey, c.Key)
			require.Equal(t, tc.wantTier, c.Tier)
			require.Equal(t, "svc", c.Service)
			require.Equal(t, "eu", c.Region)
			require.Equal(t, "pay", c.Domain)
		})
	}
}

func TestClientCallKeyedByTarget(t *testing.T) {
	t.Parallel()
	g := newGate(baldur.StageBlast)
	cc, err := grpc.NewClient("passthrough:///upstream:443", grpc.WithTransportCredentials(insecureCreds()))
	require.NoError(t, err)
	defer cc.Close()
	err = UnaryClientInterceptor(baldur.Static(policyOf(t, g)))(context.Background(), "/s/M", nil, nil, cc,
		func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil })
	require.NoError(t, err)
	require.Equal(t, "passthrough:///upstream:443", g.lastCall(t).Key)
}

func TestKeyCacheBounded(t *testing.T) {
	var k keyCache
	for i := 0; i < 10000; i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		require.Equal(t, a.String(), k.get(a))
	}
	a := netip.MustParseAddr("192.0.2.1")
	require.Equal(t, "192.0.2.1", k.get(a))
	allocs := testing.AllocsPerRun(100, func() { _ = k.get(a) })
	require.Zero(t, allocs, "a cached peer key allocates nothing")
}

func FuzzServerCallMetadata(f *testing.F) {
	f.Add("tenant", "critical")
	f.Add("", "non-essential")
	f.Add(strings.Repeat("x", 300), "\x00")
	c := newConfig([]Option{WithTrustedPeers([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})})
	f.Fuzz(func(t *testing.T, key, tier string) {
		ctx := peerCtx("10.0.0.1:1", MetadataKey, key, MetadataTier, tier)
		call := c.serverCall(ctx, "/s/M", baldurNow)
		require.LessOrEqual(t, len(call.Key), partition.MaxKeyLen, "key of %d bytes", len(call.Key))
		require.True(t, call.Tier.Valid(), "invalid tier %v", call.Tier)
		if key == "" {
			require.Equal(t, "10.0.0.1", call.Key, "empty metadata key must fall back to the peer IP")
		}
	})
}

// A connection's calls after its second are keyed from the peer cache,
// with the same key and trust decision as the first: a trusted gateway's
// metadata key, an untrusted peer's IP, each connection its own.
func TestConnectionPeerKeyedTheSameFromTheCache(t *testing.T) {
	c := newServerConfig([]Option{WithTrustedPeers([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})})
	gateway := peerCtx("10.0.0.1:1", MetadataKey, "tenant-a", MetadataTier, "critical")
	client := peerCtx("203.0.113.7:5000", MetadataKey, "tenant-a", MetadataTier, "critical")
	other := peerCtx("203.0.113.8:5000")
	for i := range 4 {
		g := c.serverCall(gateway, "/s/M", baldurNow)
		require.Equal(t, "tenant-a", g.Key, "call %d", i)
		require.Equal(t, baldur.TierCritical, g.Tier, "call %d", i)
		u := c.serverCall(client, "/s/M", baldurNow)
		require.Equal(t, "203.0.113.7", u.Key, "call %d", i)
		require.Equal(t, baldur.TierStandard, u.Tier, "call %d", i)
		require.Equal(t, "203.0.113.8", c.serverCall(other, "/s/M", baldurNow).Key, "call %d", i)
	}
	p, _ := peer.FromContext(client)
	k, ok := c.peers.Get(p.Addr.(*net.TCPAddr))
	require.True(t, ok, "the connection's peer is cached")
	require.Equal(t, "203.0.113.7", k.text)
	require.Zero(t, testing.AllocsPerRun(100, func() { _ = c.serverCall(client, "/s/M", baldurNow) }))
}
