// Package trust holds the address ranges whose peers an adapter believes:
// the reverse proxies whose X-Forwarded-For and tier header the HTTP
// middleware reads, the gateways whose key and tier metadata the gRPC
// interceptors read, the authenticating proxies of the admin server.
package trust

import "net/netip"

// List is a set of trusted address ranges. The zero value trusts nobody. A
// List is immutable and safe for concurrent use.
type List struct {
	prefixes []netip.Prefix
}

// New returns the list of prefixes, which it copies. An invalid prefix is
// dropped; each is masked, and an IPv4-mapped IPv6 prefix
// (::ffff:10.0.0.0/104) becomes its IPv4 range (10.0.0.0/8), since
// addresses are compared unmapped.
func New(prefixes []netip.Prefix) List {
	if len(prefixes) == 0 {
		return List{}
	}
	out := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return List{prefixes: out}
}

// Contains reports whether a, unmapped, is in one of the ranges. The zero
// Addr is in none.
func (l List) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range l.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Empty reports whether the list has no range.
func (l List) Empty() bool { return len(l.prefixes) == 0 }
