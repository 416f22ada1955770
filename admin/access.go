package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
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
	// AccessOperator may throw kill switches and change the emergency level.
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
	} else if s.cfg.AllowNoKeyFromLoopback && local(r) {
		a = AccessOperator
	}
	if a == AccessOperator && s.cfg.Unlock {
		a = AccessAdmin
	}
	return a, false
}

// local reports whether r comes straight from a loopback peer: not relayed
// by a proxy on the same host.
func local(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		return false
	}
	for _, h := range [...]string{"Forwarded", "X-Forwarded-For", "X-Real-Ip", "X-Forwarded-Host"} {
		if _, ok := r.Header[h]; ok {
			return false
		}
	}
	return true
}

// actor returns the principal's username when the server trusts its proxy
// and the registry holds a resolver that resolves one, else "anonymous". A
// resolver that panics is treated as resolving nobody: identity only
// attributes, it never blocks.
func (s *Server) actor(ctx context.Context, h http.Header) (actor string) {
	if !s.cfg.TrustProxy {
		return baldur.AnonymousActor
	}
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
	p, ok := res.Resolve(ctx, h, true)
	if !ok || strings.TrimSpace(p.Username) == "" {
		return baldur.AnonymousActor
	}
	return p.Username
}
