package interceptor

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/localsock"
	"github.com/baldur-go/baldur/internal/memo"
	"github.com/baldur-go/baldur/internal/partition"
)

// serverCall builds the Call of a server-side call.
func (c *config) serverCall(ctx context.Context, method string, now time.Time) (call baldur.Call) {
	c.fillServerCall(ctx, method, now, &call)
	return call
}

// fillServerCall is serverCall for the interceptors, filling the adapter's
// call, which must be the zero Call, in place: returning the 144-byte Call
// cost a copy per call, and so did assigning it a composite literal, which
// the compiler builds in a temporary first.
func (c *config) fillServerCall(ctx context.Context, method string, now time.Time, call *baldur.Call) {
	call.Operation, call.Service, call.Region, call.Domain, call.Now = method, c.service, c.region, c.domain, now
	if d, ok := ctx.Deadline(); ok {
		call.Deadline = d
	}
	if c.key != nil && c.tier != nil {
		call.Key = c.key(ctx, method)
		call.Tier = c.tier(ctx, method)
		return
	}
	addr, text, local := c.peer(ctx)
	trusted := c.trusted.Contains(addr) || local && c.local
	if c.key != nil {
		call.Key = c.key(ctx, method)
	} else if k := c.trustedValue(ctx, trusted, c.keyMD); k != "" {
		call.Key = partition.ClipKey(k)
		if local {
			localSockets.Keyed()
		}
	} else {
		call.Key = text
		if local {
			if trusted {
				localSockets.Unkeyed(ctx, msgLocalNoKey, slog.String("metadata", c.keyMD))
			} else {
				localSockets.Unkeyed(ctx, msgLocalUntrusted, slog.Attr{})
			}
		}
	}
	if c.tier != nil {
		call.Tier = c.tier(ctx, method)
	} else if v := c.trustedValue(ctx, trusted, c.tierMD); v != "" {
		if t, err := baldur.ParseTier(v); err == nil {
			call.Tier = t
		}
	}
}

func (c *config) trustedValue(ctx context.Context, trusted bool, name string) string {
	if !trusted {
		return ""
	}
	if v := metadata.ValueFromIncomingContext(ctx, name); len(v) > 0 {
		return v[0]
	}
	return ""
}

// peerKey is what a connection's peer address gives a call: the IP and
// its text, the default partition key.
type peerKey struct {
	addr netip.Addr
	text string
}

// peer returns the IP of the call's peer, unmapped, its text, and whether
// the peer is a unix socket. A TCP peer's address is one object per
// connection, so it is looked up by identity first: a connection's calls
// after its second convert and format nothing.
func (c *config) peer(ctx context.Context) (netip.Addr, string, bool) {
	if p, ok := peer.FromContext(ctx); ok && p != nil {
		if a, ok := p.Addr.(*net.TCPAddr); ok && c.peers != nil {
			if k, ok := c.peers.Get(a); ok {
				return k.addr, k.text, false
			}
			ip := a.AddrPort().Addr().Unmap()
			k := peerKey{addr: ip, text: c.keys.get(ip)}
			c.peers.Miss(a, k)
			return k.addr, k.text, false
		}
	}
	addr, local := peerAddr(ctx)
	return addr, c.keys.get(addr), local
}

// peerAddr returns the IP of the call's peer, unmapped, or the zero Addr
// for peers that are not IP endpoints (unix sockets, bufconn); local reports
// a peer on a unix socket.
func peerAddr(ctx context.Context) (a netip.Addr, local bool) {
	p, ok := peer.FromContext(ctx)
	if !ok || p == nil {
		return netip.Addr{}, false
	}
	switch a := p.Addr.(type) {
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap(), false
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap(), false
	case *net.UnixAddr:
		return netip.Addr{}, true
	}
	return netip.Addr{}, false
}

// localSockets watches the calls from unix-socket peers of every
// interceptor in the process, to warn once when they only ever get the
// empty partition key.
var localSockets localsock.Monitor

const (
	msgLocalUntrusted = "interceptor: calls from unix-socket peers only ever get the empty partition key: throttles partitioned by key put them all in one bucket and share caps cap none of them; trust the gateway on the socket with WithTrustedLocalSockets (it sets the key metadata), or set WithKey"
	msgLocalNoKey     = "interceptor: the trusted unix-socket peer never sends the partition key metadata: its calls get the empty partition key, so throttles partitioned by key put them all in one bucket and share caps cap none of them"
)

// keyCache remembers the text of recently seen peer addresses, so that
// keying a call by its peer IP does not format the address on every call;
// many distinct peers only evict each other (see memo.Table).
type keyCache struct{ texts memo.Table[netip.Addr] }

func (k *keyCache) get(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	b := a.As16()
	// A multiplicative hash of the address's two halves: a few instructions
	// where FNV over its 16 bytes would be sixteen dependent multiplies.
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	h := (hi*0x9e3779b97f4a7c15 ^ lo) * 0xc2b2ae3d27d4eb4f
	return k.texts.Get(a, uint32(h>>32), netip.Addr.String)
}
