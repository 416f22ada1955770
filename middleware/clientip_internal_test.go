package middleware

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/clock"
	"github.com/baldur-go/baldur/internal/localsock"
	"github.com/baldur-go/baldur/internal/logtest"
	"github.com/baldur-go/baldur/throttle"
)

// udsKeyGate records the partition key and tier of every call it admits.
type udsKeyGate struct {
	mu    sync.Mutex
	keys  []string
	tiers []baldur.Tier
}

func (g *udsKeyGate) Stage() baldur.Stage { return baldur.StageGovernance }

func (g *udsKeyGate) Admit(_ context.Context, c baldur.Call) (baldur.Permit, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.keys = append(g.keys, c.Key)
	g.tiers = append(g.tiers, c.Tier)
	return baldur.Permit{}, nil
}

func (g *udsKeyGate) last() (string, baldur.Tier) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.keys[len(g.keys)-1], g.tiers[len(g.tiers)-1]
}

// udsServer serves a guarded handler on a unix socket in t.TempDir(): a
// key-recording gate, then a throttle partitioned by key with a burst of
// one that the fake clock never refills. It returns a client that dials the
// socket.
func udsServer(t *testing.T, opts ...Option) (*http.Client, *udsKeyGate) {
	t.Helper()
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	th, err := throttle.New(throttle.Config{Name: "per_client", Rate: 0.001, Burst: 1, Clock: clk})
	require.NoError(t, err)
	g := &udsKeyGate{}
	p, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "uds", Gates: []baldur.Gate{g, th}, Clock: clk})
	require.NoError(t, err)
	opts = append(opts, WithClock(clk))
	h := New(baldur.Static(p), opts...)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	path := filepath.Join(t.TempDir(), "http.sock")
	l, err := net.Listen("unix", path)
	require.NoError(t, err)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		_ = srv.Close()
	})
	return &http.Client{Transport: tr}, g
}

// udsGet sends one request through the socket as the proxy would, with the
// header pairs hdr, and returns the status.
func udsGet(t *testing.T, c *http.Client, hdr ...string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://uds/", nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// A reverse proxy on a unix socket forwards each client's address. Trusted
// (WithLocalSockets), the addresses partition the throttle and the tier
// header is believed; untrusted, every client shares the socket's one key,
// so the second client is throttled by the first one's request.
func TestUnixSocketPeers(t *testing.T) {
	t.Parallel()
	addrs, err := ParseTrustedProxies("10.0.0.0/8")
	require.NoError(t, err)
	tests := []struct {
		name     string
		trusted  TrustedProxies
		wantKeys []string
		wantTier baldur.Tier
		want     []int
	}{
		{"trusted local sockets", addrs.WithLocalSockets(),
			[]string{"198.51.100.1", "198.51.100.2", "198.51.100.1"}, baldur.TierCritical, []int{204, 204, 429}},
		{"local sockets alone", TrustedProxies{}.WithLocalSockets(),
			[]string{"198.51.100.1", "198.51.100.2", "198.51.100.1"}, baldur.TierCritical, []int{204, 204, 429}},
		{"ranges do not cover sockets", addrs,
			[]string{"@", "@", "@"}, baldur.TierStandard, []int{204, 429, 429}},
		{"untrusted by default", TrustedProxies{},
			[]string{"@", "@", "@"}, baldur.TierStandard, []int{204, 429, 429}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, g := udsServer(t, WithTrustedProxies(tt.trusted), WithTierHeader("X-Baldur-Tier"))
			for i, client := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.1"} {
				code := udsGet(t, c, "X-Forwarded-For", client, "X-Baldur-Tier", "critical")
				assert.Equal(t, tt.want[i], code, "request %d (%s)", i, client)
				key, tier := g.last()
				assert.Equal(t, tt.wantKeys[i], key, "request %d", i)
				assert.Equal(t, tt.wantTier, tier, "request %d", i)
			}
		})
	}
}

func TestLocalSocketsOption(t *testing.T) {
	t.Parallel()
	var none TrustedProxies
	assert.True(t, none.Empty())
	assert.False(t, none.LocalSockets())
	local := none.WithLocalSockets()
	assert.False(t, local.Empty())
	assert.True(t, local.LocalSockets())
	assert.False(t, none.LocalSockets(), "WithLocalSockets changed its receiver")
	// A request that did not arrive on a unix listener is not local, whatever
	// its RemoteAddr says.
	r, err := http.NewRequest(http.MethodGet, "/", nil)
	require.NoError(t, err)
	r.RemoteAddr = "@"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	assert.False(t, local.FromTrusted(r))
	assert.Equal(t, "@", local.ClientIP(r))
}

// Requests over a unix socket that only ever get the socket's one key are
// reported once, with what to do; a proxy that forwards addresses is not.
// Not parallel: the warning is once per process, and parallel tests only
// run after this one.
func TestUnixSocketWarning(t *testing.T) {
	logs := &logtest.Buffer{}
	l := slog.New(slog.NewTextHandler(logs, nil))
	localSockets.Logger = func() *slog.Logger { return l }
	t.Cleanup(func() {
		localSockets.Logger = nil
		localSockets.Reset()
	})
	addrs, err := ParseTrustedProxies("10.0.0.0/8")
	require.NoError(t, err)
	n := 2 * localsock.WarnAfter
	tests := []struct {
		name string
		opts []Option
		xff  bool
		want string // the warning, or "" for none
	}{
		{"untrusted, nobody trusted", nil, true, "WithLocalSockets"},
		{"untrusted, ranges trusted", []Option{WithTrustedProxies(addrs)}, true, "WithLocalSockets"},
		{"trusted without X-Forwarded-For", []Option{WithTrustedProxies(addrs.WithLocalSockets())}, false, "never sends X-Forwarded-For"},
		{"trusted proxy forwards", []Option{WithTrustedProxies(addrs.WithLocalSockets())}, true, ""},
		{"keyed by WithKey", []Option{WithKey(func(*http.Request) string { return "k" })}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			localSockets.Reset()
			before := strings.Count(logs.String(), "level=WARN")
			c, _ := udsServer(t, tt.opts...)
			for range n {
				if tt.xff {
					udsGet(t, c, "X-Forwarded-For", "198.51.100.1")
				} else {
					udsGet(t, c)
				}
			}
			out := logs.String()
			warned := strings.Count(out, "level=WARN") - before
			if tt.want == "" {
				assert.Zero(t, warned, out)
				return
			}
			assert.Equal(t, 1, warned, "want one warning for %d requests: %s", n, out)
			assert.Contains(t, out, tt.want)
		})
	}
}

// Keying a request by its peer stays allocation-free on a unix socket too,
// trusted or not.
func TestUnixSocketClientIPAllocs(t *testing.T) {
	t.Cleanup(localSockets.Reset)
	localSockets.Logger = func() *slog.Logger { return slog.New(slog.DiscardHandler) }
	t.Cleanup(func() { localSockets.Logger = nil })
	r, err := http.NewRequest(http.MethodGet, "/", nil)
	require.NoError(t, err)
	r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, &net.UnixAddr{Name: "/run/app.sock", Net: "unix"}))
	r.RemoteAddr = "@"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	for name, tp := range map[string]TrustedProxies{"untrusted": {}, "trusted": TrustedProxies{}.WithLocalSockets()} {
		localSockets.Reset()
		var key string
		n := testing.AllocsPerRun(localsock.WarnAfter/2, func() { key = tp.ClientIP(r) })
		assert.Zero(t, n, "%s: allocs", name)
		assert.NotEmpty(t, key)
	}
}
