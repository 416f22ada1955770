package admin

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/baldur-go/baldur"
)

// DefaultIdentityHeader is the header HeaderResolver reads by default, the
// one oauth2-proxy and most identity-aware proxies set.
const DefaultIdentityHeader = "X-Forwarded-Email"

// DefaultMaxIdentityLen bounds an identity: 320 bytes, the longest valid
// e-mail address.
const DefaultMaxIdentityLen = 320

// HeaderResolver is a baldur.AdminIdentityResolver that takes the operator's
// identity from a header set by an authenticating reverse proxy. The proxy
// validates the user (a JWT, a session) and must strip any copy of the
// header the client sent; that is why Resolve answers only when trusted.
//
// Resolve returns no principal when untrusted, when the header is absent or
// blank, longer than MaxLen, not UTF-8, or holds a non-printable character
// (a forged value must not be able to forge log lines). Surrounding
// whitespace is trimmed. It never logs.
//
// The zero value reads X-Forwarded-Email. A HeaderResolver is immutable and
// safe for concurrent use. Register it in the registry's admin identity
// slot:
//
//	reg.AdminIdentity.Set(admin.HeaderResolver{})
type HeaderResolver struct {
	// Header is the identity header. Empty means DefaultIdentityHeader.
	Header string
	// MaxLen is the longest identity accepted, in bytes. Zero means
	// DefaultMaxIdentityLen.
	MaxLen int
}

var _ baldur.AdminIdentityResolver = HeaderResolver{}

// Resolve implements baldur.AdminIdentityResolver.
func (r HeaderResolver) Resolve(_ context.Context, h baldur.HeaderGetter, trusted bool) (baldur.AdminPrincipal, bool) {
	if !trusted || h == nil {
		return baldur.AdminPrincipal{}, false
	}
	name := r.Header
	if name == "" {
		name = DefaultIdentityHeader
	}
	max := r.MaxLen
	if max <= 0 {
		max = DefaultMaxIdentityLen
	}
	v := strings.TrimSpace(h.Get(name))
	if v == "" || len(v) > max || !printable(v) {
		return baldur.AdminPrincipal{}, false
	}
	return baldur.AdminPrincipal{Username: v}, true
}

// printable reports whether s is valid UTF-8 made of printable characters
// (letters, marks, numbers, punctuation, symbols and the ASCII space).
func printable(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || !unicode.IsPrint(r) {
			return false
		}
		i += n
	}
	return true
}
