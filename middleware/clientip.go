package middleware

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/baldur-go/baldur"
)

// TrustedProxies is a set of address ranges whose X-Forwarded-For entries
// and classification headers are believed. The zero value trusts nobody.
// It is immutable after ParseTrustedProxies and safe for concurrent use.
type TrustedProxies struct {
	prefixes []netip.Prefix
}

// ParseTrustedProxies parses CIDRs ("10.0.0.0/8") or single addresses
// ("127.0.0.1"). An invalid entry is an error naming it.
func ParseTrustedProxies(cidrs ...string) (TrustedProxies, error) {
	var t TrustedProxies
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		if strings.Contains(c, "/") {
			p, err := netip.ParsePrefix(c)
			if err != nil {
				return TrustedProxies{}, &baldur.ConfigError{Field: "TrustedProxies", Value: c, Reason: err.Error()}
			}
			t.prefixes = append(t.prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(c)
		if err != nil {
			return TrustedProxies{}, &baldur.ConfigError{Field: "TrustedProxies", Value: c, Reason: err.Error()}
		}
		t.prefixes = append(t.prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return t, nil
}

// Contains reports whether a is in a trusted range.
func (t TrustedProxies) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Empty reports whether nothing is trusted.
func (t TrustedProxies) Empty() bool { return len(t.prefixes) == 0 }

// maxForwardedHops bounds how many X-Forwarded-For entries are examined, so
// that a long forged header costs a bounded amount of work.
const maxForwardedHops = 16

// ClientIP returns the client address of r as text. The peer address
// (RemoteAddr) is the client unless it is a trusted proxy; then
// X-Forwarded-For is walked from the right, skipping trusted proxies, and the
// first untrusted address is the client. Malformed entries stop the walk at
// the last address known good. The result is a substring of r's fields, so no
// memory is allocated.
func (t TrustedProxies) ClientIP(r *http.Request) string {
	if t.Empty() {
		// Nobody is trusted: the peer is the client, and its address need
		// not be parsed.
		return remoteHost(r.RemoteAddr)
	}
	host, peer, ok := splitRemote(r.RemoteAddr)
	if !ok || t.Empty() || !t.Contains(peer) {
		return host
	}
	client := host
	values := r.Header.Values("X-Forwarded-For")
	hops := 0
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for len(v) > 0 {
			if hops++; hops > maxForwardedHops {
				return client
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
				return client
			}
			client = entry
			if !t.Contains(a) {
				return client
			}
		}
	}
	return client
}

// FromTrusted reports whether r's peer is a trusted proxy.
func (t TrustedProxies) FromTrusted(r *http.Request) bool {
	if t.Empty() {
		return false
	}
	_, peer, ok := splitRemote(r.RemoteAddr)
	return ok && t.Contains(peer)
}

// remoteHost returns the host of "ip:port", "[ip]:port" or a bare address
// as a substring, without allocating.
func remoteHost(remote string) string {
	host := remote
	if strings.HasPrefix(host, "[") {
		if end := strings.IndexByte(host, ']'); end > 0 {
			host = host[1:end]
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host, ':') == i {
		host = host[:i]
	}
	return host
}

// splitRemote is remoteHost with the host parsed as an address.
func splitRemote(remote string) (string, netip.Addr, bool) {
	host := remoteHost(remote)
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host, netip.Addr{}, false
	}
	return host, a, true
}
