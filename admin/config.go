package admin

import (
	"log/slog"
	"net/netip"
	"os"
	"strconv"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/registry"
)

// MinKeyLen is the shortest accepted admin key, in bytes.
const MinKeyLen = 16

// Config configures a Server. Registry is required, and so is a way in: at
// least one key or AllowNoKeyFromLoopback.
type Config struct {
	// Registry is the registry the server reads and operates. Required.
	Registry *registry.Registry

	// TrustedProxies are the address ranges of the authenticating reverse
	// proxies in front of the server, which set the identity header and
	// strip any copy a client sent. Only for a request whose peer
	// (RemoteAddr) is inside one of them is the registry's admin identity
	// resolver asked for the actor (with trusted=true); from any other peer
	// the actor is "anonymous", whatever header it sent. Empty trusts
	// nobody. IPv4-mapped peers match IPv4 ranges; a single proxy is a /32
	// or /128. In JSON a prefix is its text ("10.0.0.0/8"), so a
	// []netip.Prefix field decodes from ["10.0.0.0/8", "fd00::/8"]. Every
	// prefix must be valid. Trusting a loopback range trusts every process
	// on the host.
	TrustedProxies []netip.Prefix

	// OperatorKey grants OPERATOR (ADMIN with Unlock) to requests whose
	// X-Baldur-Admin-Key header equals it. Empty means no operator key;
	// otherwise at least MinKeyLen printable ASCII characters without
	// spaces.
	OperatorKey string
	// ViewerKey grants VIEWER (read-only). Empty means no viewer key; the
	// same rules as OperatorKey, and it must differ from it.
	ViewerKey string

	// Unlock turns OPERATOR into ADMIN, the level the destructive actions
	// (break glass, forcing breakers, reload) require. False keeps them
	// refused with 403 whatever the key.
	Unlock bool

	// AllowNoKeyFromLoopback grants OPERATOR (ADMIN with Unlock) to a
	// request without a key whose peer is a loopback address, whose Host is
	// a loopback name or address ("localhost", "127.0.0.1:9090", "[::1]"),
	// and that carries no forwarding header and no identity header. The
	// Host rule defeats DNS rebinding: a page that rebinds its own name to
	// 127.0.0.1 still sends that name as Host. Leave it off when a reverse
	// proxy runs on the same host without adding X-Forwarded-For.
	AllowNoKeyFromLoopback bool

	// ConfigDir is the directory POST /reload {"path": ...} reads from; the
	// path is resolved inside it and cannot escape it (os.Root). Empty
	// turns path reloads off (a configuration posted in the body still
	// reloads).
	ConfigDir string

	// Clock dates kill-switch expiries. Use the registry's clock. Nil
	// means baldur.SystemClock().
	Clock baldur.Clock

	// Fleet, when set, serves GET /fleet (live replicas and shared store
	// health); nil answers 404. redisstore's Membership.AdminFleet gives one.
	Fleet Fleet

	// Idempotency, when set, serves GET and DELETE /idempotency/record
	// (a record's status; releasing a stuck claim); nil answers 404.
	Idempotency Idempotency

	// RateLimit bounds the requests per client to the API and console
	// (100 per minute by default; see RateLimit).
	RateLimit RateLimit
	// Notifications, when set, serves /notifications/... (channel health,
	// last results, silences, test send); nil answers 404. A
	// *notify.Pipeline gives one.
	Notifications Notifications
	// Watchdog, when set, serves /watchdog/status, /watchdog/tick (a dry
	// run) and /watchdog/brake/release; nil answers 404. A
	// *watchdog.Runner is one.
	Watchdog Watchdog
	// DLQ, when set, serves the /dlq endpoints (stats, entries, groups,
	// replay, redrive, delete, auto-replay); nil answers 404. A
	// *dlq.Queue is one.
	DLQ DLQ
	// Canary, when set, serves /canary/rollouts (list, status, create,
	// promote, pause, resume, rollback) and POST /canary/panic-rollback;
	// nil answers 404. *canary.Service is one.
	Canary Canary
	// Chaos, when set, serves /chaos/... (experiments, approval, start,
	// stop, kill-all, reports); nil answers 404. A *chaos.Scheduler.
	Chaos Chaos

	// Logger receives one record per write (actor, action, outcome) and per
	// refused request. Nil means slog.Default().
	Logger *slog.Logger
}

func validate(cfg *Config) error {
	if cfg.Registry == nil {
		return &baldur.ConfigError{Field: "Registry", Reason: "is required"}
	}
	if err := validKey("OperatorKey", cfg.OperatorKey); err != nil {
		return err
	}
	if err := validKey("ViewerKey", cfg.ViewerKey); err != nil {
		return err
	}
	if cfg.OperatorKey != "" && cfg.OperatorKey == cfg.ViewerKey {
		return &baldur.ConfigError{Field: "ViewerKey", Reason: "must differ from OperatorKey"}
	}
	if cfg.ConfigDir != "" {
		if fi, err := os.Stat(cfg.ConfigDir); err != nil || !fi.IsDir() {
			return &baldur.ConfigError{Field: "ConfigDir", Value: cfg.ConfigDir, Reason: "is not a readable directory"}
		}
	}
	for i, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			return &baldur.ConfigError{Field: "TrustedProxies[" + strconv.Itoa(i) + "]", Value: p.String(), Reason: "is not a valid address prefix"}
		}
	}
	if err := cfg.RateLimit.validate(); err != nil {
		return err
	}
	if cfg.OperatorKey == "" && cfg.ViewerKey == "" && !cfg.AllowNoKeyFromLoopback {
		return &baldur.ConfigError{Field: "OperatorKey", Reason: "no way in: set OperatorKey, ViewerKey or AllowNoKeyFromLoopback"}
	}
	return nil
}

// validKey checks a configured key. The value never appears in the error.
func validKey(field, k string) error {
	if k == "" {
		return nil
	}
	if len(k) < MinKeyLen {
		return &baldur.ConfigError{Field: field, Value: strconv.Itoa(len(k)) + " bytes", Reason: "must be at least " + strconv.Itoa(MinKeyLen) + " bytes"}
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] >= 0x7f {
			return &baldur.ConfigError{Field: field, Reason: "must be printable ASCII without spaces (it travels in a header)"}
		}
	}
	return nil
}
