package interceptor

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/coarse"
	"github.com/baldur-go/baldur/internal/front"
	"github.com/baldur-go/baldur/internal/trust"
)

// Metadata names read from trusted peers by default.
const (
	// MetadataKey carries the partition key (tenant, API key) set by a
	// trusted gateway.
	MetadataKey = "baldur-key"
	// MetadataTier carries the tier name ("critical", "standard",
	// "non_essential") set by a trusted gateway.
	MetadataTier = "baldur-tier"
)

// Option configures an interceptor, the tap handle or a Limiter.
type Option func(*config)

type config struct {
	tier    func(ctx context.Context, fullMethod string) baldur.Tier
	key     func(ctx context.Context, fullMethod string) string
	trusted trust.List
	local   bool // trust peers on local (unix) sockets
	clock   baldur.Clock
	service string
	region  string
	domain  string
	keyMD   string
	tierMD  string
	keys    *keyCache
	peers   *front.Pointers[net.TCPAddr, peerKey] // by connection, server side only (see peer); nil: none
	latency bool
	dlq     DLQ
}

// newServerConfig is newConfig for the server side, whose calls are keyed
// by their peer: it adds the 64 KiB cache of connections' peer keys, which
// client-side configurations do without.
func newServerConfig(opts []Option) *config {
	c := newConfig(opts)
	c.peers = new(front.Pointers[net.TCPAddr, peerKey])
	return c
}

func newConfig(opts []Option) *config {
	c := &config{keyMD: MetadataKey, tierMD: MetadataTier, keys: new(keyCache)}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	return c
}

// WithTier classifies calls with f, which sees the call's context (incoming
// metadata, peer, auth info) and full method. It replaces the default:
// metadata from trusted peers, else the standard tier. f must be safe for
// concurrent use.
func WithTier(f func(ctx context.Context, fullMethod string) baldur.Tier) Option {
	return func(c *config) { c.tier = f }
}

// WithKey sets the partition key function, replacing the default (server:
// metadata from trusted peers, else the peer IP; client: the ClientConn
// target). f must be safe for concurrent use and should not allocate.
func WithKey(f func(ctx context.Context, fullMethod string) string) Option {
	return func(c *config) { c.key = f }
}

// WithTrustedPeers lists the peer address ranges (gateways, sidecars) whose
// metadata key and tier are believed. By default no peer is trusted.
// IPv4-mapped IPv6 peers match IPv4 ranges, and IPv4-mapped ranges
// (::ffff:10.0.0.0/104) their IPv4 peers; invalid prefixes are ignored.
func WithTrustedPeers(prefixes []netip.Prefix) Option {
	l := trust.New(prefixes)
	return func(c *config) { c.trusted = l }
}

// WithTrustedLocalSockets also trusts peers on a local (unix domain)
// socket, as WithTrustedPeers trusts address ranges: their metadata key and
// tier are believed. A unix-socket peer has no address, so without this
// every call over the socket gets the empty partition key and can never
// forward one: throttles partitioned by key put all of them in one bucket
// and share caps cap none of them. Use it when only the gateway or sidecar
// can connect to the socket (its file permissions) and it sets the key
// metadata (and strips client copies); a trusted peer that sends no key
// still gets the empty key. It is the counterpart of
// middleware.TrustedProxies.WithLocalSockets.
func WithTrustedLocalSockets() Option { return func(c *config) { c.local = true } }

// WithKeyMetadata sets the metadata name a trusted peer's partition key is
// read from (default MetadataKey). Names are lower-cased by gRPC.
func WithKeyMetadata(name string) Option { return func(c *config) { c.keyMD = lower(name) } }

// WithTierMetadata sets the metadata name a trusted peer's tier is read from
// (default MetadataTier).
func WithTierMetadata(name string) Option { return func(c *config) { c.tierMD = lower(name) } }

// WithClock sets the clock read at admission and at release (for the
// latency). Default: the process's coarse clock, a reading at most about
// 1 ms old that costs one atomic load (the gates need no finer time: token
// buckets refill in steps of a tick and hold their rate, budgets and
// breakers count in seconds), or the system clock with WithLatency.
func WithClock(clk baldur.Clock) Option { return func(c *config) { c.clock = clk } }

// WithLatency makes the interceptors read the clock a second time when a
// call ends, to report its latency in Outcome.Latency. By default the
// clock is read once per call (at admission) and Latency is zero: a clock
// read costs tens of nanoseconds on some virtual machines, more than the
// rest of the guard.
func WithLatency() Option { return func(c *config) { c.latency = true } }

// since is the latency of a call admitted at start, or zero when latency
// is not measured.
func (c *config) since(start time.Time) time.Duration {
	if !c.latency {
		return 0
	}
	return c.now().Sub(start)
}

// now is the one clock reading of a call at admission (and, with
// WithLatency, the second at its end): the clock of WithClock, else the
// process's coarse clock, or the system clock when latency is measured.
func (c *config) now() time.Time {
	switch {
	case c.clock != nil:
		return c.clock.Now()
	case c.latency:
		return time.Now()
	}
	return coarse.Now()
}

// WithService sets Call.Service (the kill-switch scope) of every call.
func WithService(name string) Option { return func(c *config) { c.service = name } }

// WithRegion sets Call.Region of every call.
func WithRegion(region string) Option { return func(c *config) { c.region = region } }

// WithDomain sets Call.Domain of every call.
func WithDomain(domain string) Option { return func(c *config) { c.domain = domain } }

func lower(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if 'A' <= ch && ch <= 'Z' {
			b[i] = ch + 'a' - 'A'
		}
	}
	return string(b)
}
