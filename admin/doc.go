// Package admin is the control plane of baldur-go: an http.Handler through
// which operators read the state of the gates and throw the switches of an
// incident (kill switches, the emergency level, break glass, forced
// breakers) and reload the configuration.
//
// # Who may do what
//
// Every request gets an access level, lowest first: PUBLIC, VIEWER,
// OPERATOR, ADMIN. The level comes from the X-Baldur-Admin-Key header,
// compared in constant time with Config.ViewerKey (VIEWER) and
// Config.OperatorKey (OPERATOR). ADMIN is OPERATOR plus Config.Unlock: the
// destructive actions (break glass, forcing breakers, reload) stay refused
// until the server is deliberately started unlocked. With
// Config.AllowNoKeyFromLoopback a request with no key from a loopback peer
// is an OPERATOR, provided its Host is a loopback name or address and it
// carries neither a forwarding header (Forwarded, X-Forwarded-For,
// X-Real-IP, X-Forwarded-Host) nor the identity header: a reverse proxy on
// the same host does not hand out that level to everyone behind it, and a
// page that rebinds its DNS name to 127.0.0.1 is refused by its Host. A key
// that matches nothing is refused outright rather than falling back to the
// loopback rule.
//
// # Browsers
//
// A page open in the operator's browser must not be able to throw a switch.
// Cross-origin writes are refused (http.CrossOriginProtection reads
// Sec-Fetch-Site, else compares Origin with Host), and every write must be
// sent as Content-Type: application/json (else 415), which a page cannot
// send to another origin without a CORS preflight the server never grants.
// Requests without those headers, as curl and programs send them, pass.
//
// GET /console is an operator console for the browser on the same API
// (docs/console.md): embedded files, a strict Content-Security-Policy, no
// inline script, data written as text only, the key kept in the tab's
// sessionStorage and sent in the key header. Every answer carries
// X-Frame-Options: DENY.
//
// # Rate limit
//
// Each client (the actor a trusted proxy vouched for, else the peer's
// address) may make Config.RateLimit.PerMinute requests a minute (100 by
// default), API and console together; beyond, 429 with Retry-After. With
// RateLimit.Store the buckets are shared by the fleet, and while the store
// cannot decide each replica also holds a client to DegradedPerMinute (10).
//
// # Who did it
//
// The actor recorded with every change (in the log, in the kill switch, in
// the emergency state) is the principal the registry's admin identity slot
// resolves, or "anonymous". Identity never grants access: the keys do.
// [HeaderResolver] reads the identity from a header set by an
// authenticating proxy (X-Forwarded-Email by default). The resolver is
// asked, with trusted=true, only for a request whose peer is inside
// Config.TrustedProxies, the proxies that set the header and strip client
// copies of it; from any other peer the actor is "anonymous" whatever it
// sent. Neither the header value of a rejected identity nor any key is ever
// logged.
//
// # Endpoints
//
//	GET    /status              VIEWER    config version, policies, slots, emergency state,
//	                                      kill switches, break glass, budget, bulkheads,
//	                                      breaker partitions (keys for OPERATOR and above)
//	POST   /killswitch          OPERATOR  {"scope","pattern","reason","expires_in"}
//	DELETE /killswitch          OPERATOR  {"scope","pattern"}
//	POST   /emergency/trigger   OPERATOR  {"level","reason","duration"}
//	POST   /emergency/stepdown  OPERATOR  {"reason"}
//	POST   /breakglass          ADMIN     {"on","reason"}
//	POST   /breakers/force      ADMIN     {"policy","partition_key","operation","state","ttl"}
//	POST   /reload              ADMIN     {"path"} or a whole configuration document
//	GET    /console             PUBLIC    the browser console (and /console/assets/{file})
//	GET    /access              PUBLIC    the caller's level and actor
//	GET    /audit               VIEWER    the latest writes through this server
//	GET    /policies            VIEWER    every gate of every policy with its live state
//	GET    /budget              VIEWER    the error budget per tier
//	GET    /rejections          VIEWER    rejections per reason over the last minutes
//
// Bodies are JSON, read through http.MaxBytesReader and decoded strictly
// (unknown fields and trailing data are errors). Durations are Go duration
// strings ("90s") or numbers of seconds. Answers are JSON; an error is
// {"error": ..., "field": ...} with status 400 (bad input), 403 (level too
// low, or a cross-origin request), 429 (rate limited), 404 (the registry slot the endpoint
// needs is unset, or the governance slot holds a checker that is not a
// governance.Switchboard), 409 (the transition is refused: stepping below
// NORMAL, lowering the level by trigger, forcing beyond a breaker's bound
// of forced partitions), 413 (body too large), 415 (a write that is not
// application/json) or 500 (the store failed).
//
// Mount the handler on its own listener, bound to localhost or reachable
// only through the authenticating proxy; use http.StripPrefix to serve it
// under a path prefix.
package admin
