package middleware

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/localsock"
	"github.com/baldur-go/baldur/internal/trust"
)

// TrustedProxies is a set of address ranges, and optionally the peers on
// local (unix domain) sockets, whose X-Forwarded-For entries and
// classification headers are believed. The zero value trusts nobody. It is
// immutable after ParseTrustedProxies (WithLocalSockets returns a copy) and
// safe for concurrent use.
type TrustedProxies struct {
	ranges trust.List
	local  bool
}

// ParseTrustedProxies parses CIDRs ("10.0.0.0/8") or single addresses
// ("127.0.0.1"). An invalid entry is an error naming it. IPv4-mapped
// addresses and ranges (::ffff:10.0.0.0/104) trust their IPv4 peers.
func ParseTrustedProxies(cidrs ...string) (TrustedProxies, error) {
	prefixes := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		if strings.Contains(c, "/") {
			p, err := netip.ParsePrefix(c)
			if err != nil {
				return TrustedProxies{}, &baldur.ConfigError{Field: "TrustedProxies", Value: c, Reason: err.Error()}
			}
			prefixes = append(prefixes, p)
			continue
		}
		a, err := netip.ParseAddr(c)
		if err != nil {
			return TrustedProxies{}, &baldur.ConfigError{Field: "TrustedProxies", Value: c, Reason: err.Error()}
		}
		prefixes = append(prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return TrustedProxies{ranges: trust.New(prefixes)}, nil
}

// WithLocalSockets returns a copy of t that also trusts peers on a local
// (unix domain) socket, as it trusts its address ranges: their
// X-Forwarded-For entries and tier header are believed. A unix-socket peer
// has no address (its RemoteAddr is "@"), so without this every request
// over the socket gets that one partition key and can never forward
// another: throttles partitioned by key put them all in one bucket and a
// share cap caps them together. Use it when only the reverse proxy can
// connect to the socket (its file permissions) and it sets X-Forwarded-For;
// a trusted peer that sends none still gets the one key. It is the
// counterpart of interceptor.WithTrustedLocalSockets.
func (t TrustedProxies) WithLocalSockets() TrustedProxies {
	t.local = true
	return t
}

// LocalSockets reports whether peers on local sockets are trusted.
func (t TrustedProxies) LocalSockets() bool { return t.local }

// Contains reports whether a is in a trusted range.
func (t TrustedProxies) Contains(a netip.Addr) bool { return t.ranges.Contains(a) }

// Empty reports whether nothing is trusted: no range and no local socket.
func (t TrustedProxies) Empty() bool { return t.ranges.Empty() && !t.local }

// maxForwardedHops bounds how many X-Forwarded-For entries are examined, so
// that a long forged header costs a bounded amount of work.
const maxForwardedHops = 16

// ClientIP returns the client address of r as text. The peer address
// (RemoteAddr) is the client unless it is a trusted proxy; then
// X-Forwarded-For is walked from the right, skipping trusted proxies, and the
// first untrusted address is the client. Malformed entries stop the walk at
// the last address known good. A peer on a unix socket is a trusted proxy
// only under WithLocalSockets; otherwise, or when it forwards nothing, its
// RemoteAddr ("@") is the key, and a warning is logged once per process
// when such requests only ever get that key. The result is a substring of
// r's fields, so no memory is allocated.
func (t TrustedProxies) ClientIP(r *http.Request) string {
	if t.Empty() {
		// Nobody is trusted: the peer is the client, and its address need
		// not be parsed.
		host := remoteHost(r.RemoteAddr)
		if !maybeIP(host) && localSocket(r) {
			localSockets.Unkeyed(r.Context(), msgLocalUntrusted, slog.Attr{})
		}
		return host
	}
	host, peer, ok := splitRemote(r.RemoteAddr)
	switch {
	case ok:
		if !t.Contains(peer) {
			return host
		}
	case !localSocket(r):
		return host
	case !t.local:
		localSockets.Unkeyed(r.Context(), msgLocalUntrusted, slog.Attr{})
		return host
	default: // a trusted local socket
		client, forwarded := t.forwarded(r, host)
		if forwarded {
			localSockets.Keyed()
		} else {
			localSockets.Unkeyed(r.Context(), msgLocalNoForward, slog.Attr{})
		}
		return client
	}
	client, _ := t.forwarded(r, host)
	return client
}

// forwarded walks r's X-Forwarded-For from the right, skipping trusted
// proxies, and returns the first untrusted address (or the last good one)
// and whether the header named any; without one the client is host.
func (t TrustedProxies) forwarded(r *http.Request, host string) (client string, ok bool) {
	client = host
	values := r.Header.Values("X-Forwarded-For")
	hops := 0
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for len(v) > 0 {
			if hops++; hops > maxForwardedHops {
				return client, ok
			}
			var entry string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				entry, v = v[j+1:], v[:j]
			} else {
				entry, v = v, ""
			}
			entry = strings.TrimSpace(entry)
			a, err := netip.ParseAddr(entry)
			if err != nil {
				return client, ok
			}
			client, ok = entry, true
			if !t.Contains(a) {
				return client, ok
			}
		}
	}
	return client, ok
}

// FromTrusted reports whether r's peer is a trusted proxy: an address in a
// trusted range, or a local socket under WithLocalSockets.
func (t TrustedProxies) FromTrusted(r *http.Request) bool {
	if t.Empty() {
		return false
	}
	_, peer, ok := splitRemote(r.RemoteAddr)
	if !ok {
		return t.local && localSocket(r)
	}
	return t.Contains(peer)
}

// localSockets watches the requests from unix-socket peers of every
// middleware in the process, to warn once when they only ever get the
// socket's one partition key.
var localSockets localsock.Monitor

const (
	msgLocalUntrusted = "middleware: requests from unix-socket peers only ever get one partition key (their RemoteAddr): throttles partitioned by key put them all in one bucket and share caps cap them together; trust the proxy on the socket with TrustedProxies.WithLocalSockets (it sets X-Forwarded-For), or set WithKey"
	msgLocalNoForward = "middleware: the trusted unix-socket peer never sends X-Forwarded-For: its requests get one partition key (their RemoteAddr), so throttles partitioned by key put them all in one bucket and share caps cap them together"
)

// localSocket reports whether r arrived on a unix-socket listener.
func localSocket(r *http.Request) bool {
	a, _ := r.Context().Value(http.LocalAddrContextKey).(*net.UnixAddr)
	return a != nil
}

// maybeIP reports whether host can be an IP address by its first byte (a
// hex digit or ':'): a unix-socket peer's "@" or path cannot.
func maybeIP(host string) bool {
	if host == "" {
		return false
	}
	c := host[0]
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == ':'
}

// remoteHost returns the host of "ip:port", "[ip]:port" or a bare address
// as a substring, without allocating. "ip:port" has exactly one colon; a
// bare IPv6 address has several and is its own host. One pass from the end
// finds both the last colon and whether there is another: a remote address
// is short, and the two library scans it replaces cost more in their calls
// than in their loops.
func remoteHost(remote string) string {
	if len(remote) > 0 && remote[0] == '[' {
		if end := strings.IndexByte(remote, ']'); end > 0 {
			return remote[1:end]
		}
		return remote
	}
	colon := -1
	for i := len(remote) - 1; i >= 0; i-- {
		if remote[i] == ':' {
			if colon >= 0 {
				return remote // a second colon: a bare IPv6 address
			}
			colon = i
		}
	}
	if colon >= 0 {
		return remote[:colon]
	}
	return remote
}

// splitRemote is remoteHost with the host parsed as an address. A host that
// cannot be one (a unix-socket peer's "@") is not parsed: the parse error
// would be allocated.
func splitRemote(remote string) (string, netip.Addr, bool) {
	host := remoteHost(remote)
	if !maybeIP(host) {
		return host, netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host, netip.Addr{}, false
	}
	return host, a, true
}
