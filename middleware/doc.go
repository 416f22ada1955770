// Package middleware puts the toolkit's gates around net/http: New returns
// server middleware (func(http.Handler) http.Handler) and NewTransport wraps
// an outbound http.RoundTripper.
//
// # Configuration
//
// The two sides are configured as net/http configures them. The server
// middleware takes functional options (New(r, WithKey(f), WithTierRules(..)))
// as handler wrappers do, and as the gRPC interceptors do, so that the
// options a server shares with a gRPC server read alike. The outbound side
// takes a TransportConfig, a plain struct in the way http.Transport is one:
// every field optional, the zero value the defaults, the whole configuration
// visible in one type. One option type cannot serve both: most options
// apply to one side only (WithMux, WithTierRules, WithTrustedProxies; the
// cooldown), and a shared type would accept them where they mean nothing.
//
//	client := &http.Client{Transport: middleware.NewTransport(reg, middleware.TransportConfig{
//		Service:  "checkout",
//		Key:      func(r *http.Request) string { return r.Header.Get("X-Tenant") },
//		Cooldown: middleware.Cooldown{Initial: time.Second},
//	})}
//
// # Server middleware
//
// For each request the middleware builds one baldur.Call: the operation (by
// default the ServeMux pattern the request matched, see WithOperation and
// WithMux), the partition key (the client IP, see WithKey), the tier (method
// and path rules, or a tier header believed only from trusted proxies), the
// deadline of the request context, and one clock reading. It asks its
// baldur.Resolver (usually the registry) for the operation's Policy and
// admits the call through it.
//
// A rejected request never reaches the handler. It is answered per the
// rejection table: 429 for a partition over its own quota (throttled,
// share_cap), 503 for shedding (kill switch, emergency, error budget, open
// breaker, full bulkhead, too short a deadline), with Retry-After,
// X-Baldur-Gate, X-Baldur-Reason and a small JSON body
// {"code":"throttled","gate":"throttle","retry_after_s":1}. When the policy
// has a quota, admits and throttle rejections also carry the IETF
// RateLimit-Policy and RateLimit fields, never the partition key.
//
// An admitted request runs the handler behind a ResponseWriter that records
// the status. The outcome reported to the gates is Failure for 5xx and for a
// panic (re-raised after the permits are released), Ignored for 4xx and for
// requests whose client went away, Success otherwise. The wrapper exposes
// Unwrap, so http.ResponseController keeps Flush, Hijack and deadlines
// working; it implements http.Flusher directly, and http.Hijacker and
// io.ReaderFrom exactly when the writer it wraps does (so w.(http.Hijacker)
// and sendfile keep working). A hijacked request keeps its permits until
// the handler returns.
//
// # Client IP and trusted proxies
//
// X-Forwarded-For is forged by anyone unless a proxy you run overwrites it.
// The middleware believes it only when the peer address is in
// WithTrustedProxies; it then walks the header from the right, skipping
// trusted hops, and takes the first untrusted address. At most 16 hops are
// examined and a malformed entry stops the walk.
//
// A peer on a unix socket has no address (RemoteAddr "@"), so every request
// over the socket shares one partition key unless the proxy on the socket
// is trusted with TrustedProxies.WithLocalSockets and forwards the client's
// address; a warning is logged once per process when such requests only
// ever get that one key.
//
// # Cost
//
// With a policy of allocation-free gates, a guarded request allocates
// nothing more than a bare one: the Call lives on the stack, the writer
// wrapper is pooled and rejections are rendered once and reused. The header
// values of a rejection are therefore shared between responses: a
// middleware outside this one may replace them (Header.Set, Header.Del) but
// must not write into them (h["Retry-After"][0] = v). Such a write is
// detected and undone for later responses (see WriteRejection).
package middleware
