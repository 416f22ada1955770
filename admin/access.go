package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/baldur-go/baldur"
)

// Access is a request's access level; higher levels include the lower ones.
type Access uint8

// The access levels, lowest first.
const (
	// AccessPublic is a request without a valid key.
	AccessPublic Access = iota
	// AccessViewer may read the status.
	AccessViewer
	// AccessOperator may throw kill switches and change the emergency
	// level.
	AccessOperator
	// AccessAdmin is an operator on an unlocked server: break glass, forced
	// breakers and reloads.
	AccessAdmin
)

var accessNames = [...]string{"PUBLIC", "VIEWER", "OPERATOR", "ADMIN"}

// String returns "PUBLIC", "VIEWER", "OPERATOR" or "ADMIN".
func (a Access) String() string {
	if int(a) < len(accessNames) {
		return accessNames[a]
	}
	return "UNKNOWN"
}

// KeyHeader carries the admin key.
const KeyHeader = "X-Baldur-Admin-Key"

// keys holds digests of the configured keys, so that comparing takes the
// same time whatever the length of the presented key.
type keys struct {
	operator, viewer       [sha256.Size]byte
	hasOperator, hasViewer bool
}

func newKeys(operator, viewer string) keys {
	return keys{
		operator: sha256.Sum256([]byte(operator)), hasOperator: operator != "",
		viewer: sha256.Sum256([]byte(viewer)), hasViewer: viewer != "",
	}
}

// match compares k with both keys, always both, in constant time.
func (ks *keys) match(k string) Access {
	d := sha256.Sum256([]byte(k))
	op := subtle.ConstantTimeCompare(d[:], ks.operator[:]) == 1 && ks.hasOperator
	vw := subtle.ConstantTimeCompare(d[:], ks.viewer[:]) == 1 && ks.hasViewer
	switch {
	case op:
		return AccessOperator
	case vw:
		return AccessViewer
	}
	return AccessPublic
}

// access returns r's access level and whether it presented a key that
// matched nothing.
func (s *Server) access(r *http.Request) (a Access, badKey bool) {
	if k := r.Header.Get(KeyHeader); k != "" {
		a = s.keys.match(k)
		if a == AccessPublic {
			return AccessPublic, true
		}
	} else if s.cfg.AllowNoKeyFromLoopback && s.local(r) {
		a = AccessOperator
	}
	if a == AccessOperator && s.cfg.Unlock {
		a = AccessAdmin
	}
	return a, false
}

// relayHeaders mark a request relayed by a proxy: the forwarding headers
// and the default identity header.
var relayHeaders = [...]string{"Forwarded", "X-Forwarded-For", "X-Real-Ip", "X-Forwarded-Host", DefaultIdentityHeader}

// local reports whether r comes straight from a loopback peer, addressed to
// a loopback Host: not relayed by a proxy on the same host (no forwarding or
// identity header) and not sent by a page whose name was rebound to a
// loopback address (its Host would be that name).
func (s *Server) local(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !ap.Addr().Unmap().IsLoopback() || !loopbackHost(r.Host) {
		return false
	}
	for _, h := range relayHeaders {
		if _, ok := r.Header[h]; ok {
			return false
		}
	}
	if h := s.identityHeader(); h != "" {
		if _, ok := r.Header[h]; ok {
			return false
		}
	}
	return true
}

// identityHeader is the header the registry's resolver reads, when it is a
// HeaderResolver with a header of its own; else "".
func (s *Server) identityHeader() string {
	res, ok := s.cfg.Registry.AdminIdentity.SafeGet()
	if !ok {
		return ""
	}
	var h string
	switch hr := res.(type) {
	case HeaderResolver:
		h = hr.Header
	case *HeaderResolver:
		if hr != nil {
			h = hr.Header
		}
	}
	if h == "" {
		return ""
	}
	return http.CanonicalHeaderKey(h)
}

// loopbackHost reports whether host (a Host header: a name or address,
// with or without a port) is "localhost" or a loopback address.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// fromTrustedProxy reports whether the peer of r is inside one of the
// trusted proxy prefixes.
func (s *Server) fromTrustedProxy(r *http.Request) bool {
	if s.proxies.Empty() {
		return false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && s.proxies.Contains(ap.Addr())
}

// actor returns the principal's username when r's peer is a trusted proxy
// and the registry holds a resolver that resolves one, else "anonymous";
// from an untrusted peer the resolver is not asked at all. A resolver that
// panics is treated as resolving nobody: identity only attributes, it never
// blocks.
func (s *Server) actor(r *http.Request) (actor string) {
	if !s.fromTrustedProxy(r) {
		return baldur.AnonymousActor
	}
	ctx := r.Context()
	res, ok := s.cfg.Registry.AdminIdentity.SafeGet()
	if !ok || res == nil {
		return baldur.AnonymousActor
	}
	defer func() {
		if recover() != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "admin: identity resolver panicked; actor recorded as anonymous")
			actor = baldur.AnonymousActor
		}
	}()
	p, ok := res.Resolve(ctx, r.Header, true)
	if !ok || strings.TrimSpace(p.Username) == "" {
		return baldur.AnonymousActor
	}
	return p.Username
}
