package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/baldur-go/baldur"
	"github.com/redis/go-redis/v9"
)

// CheckClient reports, as a *baldur.ConfigError naming the go-redis option,
// a client configured in a way that breaks the stores' promises:
//
//   - ContextTimeoutEnabled must be true: otherwise go-redis ignores the
//     context's deadline on the socket and a hung server holds each call
//     for ReadTimeout (5 s by default) instead of the store's deadline;
//   - MaxRetries must be -1: otherwise go-redis re-sends a command after an
//     EOF or a dial error, and a script that ran before the connection
//     dropped runs twice (a throttle take charges twice).
//
// It reads the options of *redis.Client (also what NewFailoverClient
// returns), *redis.ClusterClient and *redis.Ring. Any other type is
// reported too, since its behaviour cannot be verified.
//
// A ClusterClient also re-sends after an EOF up to MaxRedirects times (it
// shares that budget with MOVED/ASK redirects, which are safe); set
// MaxRedirects to -1 to rule it out, at the price of failing calls during a
// resharding. CheckClient does not require it.
func CheckClient(c redis.UniversalClient) error {
	if c == nil {
		return &baldur.ConfigError{Field: "Client", Reason: "is required"}
	}
	var (
		ctxTimeout bool
		retries    int
		noRetries  int // the value Options() holds after the user's -1
	)
	switch c := c.(type) {
	case *redis.Client:
		o := c.Options()
		ctxTimeout, retries, noRetries = o.ContextTimeoutEnabled, o.MaxRetries, 0
	case *redis.Ring:
		o := c.Options()
		ctxTimeout, retries, noRetries = o.ContextTimeoutEnabled, o.MaxRetries, 0
	case *redis.ClusterClient:
		o := c.Options()
		ctxTimeout, retries, noRetries = o.ContextTimeoutEnabled, o.MaxRetries, -1
	default:
		return &baldur.ConfigError{Field: "Client", Value: fmt.Sprintf("%T", c),
			Reason: "must be a *redis.Client, *redis.ClusterClient or *redis.Ring, whose options can be checked"}
	}
	if !ctxTimeout {
		return &baldur.ConfigError{Field: "ContextTimeoutEnabled", Value: "false",
			Reason: "must be true, or per-call deadlines do not bound socket reads"}
	}
	if retries != noRetries {
		// go-redis turns a 0 into its default 3 and the user's -1 into 0
		// (ClusterClient: 0 and -1 both into -1), so report what it will do.
		return &baldur.ConfigError{Field: "MaxRetries", Value: strconv.Itoa(retries) + " retries",
			Reason: "must be -1 (no retries), or a write retried after a lost reply is applied twice"}
	}
	return nil
}

// ServerPolicy is what a state store requires of the server. The zero value
// requires noeviction and warns when the append-only file is off.
type ServerPolicy struct {
	// AllowEviction accepts an evicting maxmemory-policy. Leave it false
	// for state that must not vanish (kill switches, locks, idempotency).
	AllowEviction bool
	// Logger receives the warnings (AOF off, settings that cannot be read).
	// Nil means slog.Default().
	Logger *slog.Logger
}

// ServerSettings is what CheckServer read from one server.
type ServerSettings struct {
	Addr string
	// MaxmemoryPolicy is the server's maxmemory-policy; empty when it
	// could not be read.
	MaxmemoryPolicy string
	// AppendOnly is "yes", "no", or empty when it could not be read.
	AppendOnly string
}

// CheckServer reads every primary's maxmemory-policy and appendonly
// settings (CONFIG GET, or INFO where CONFIG is disabled, as on many
// managed services) and returns a *baldur.ConfigError when the policy
// evicts and p.AllowEviction is false. It warns through p.Logger when AOF is
// off (state written since the last snapshot is lost on a restart) and when
// neither command is allowed. A server that cannot be reached is an
// *UnavailableError naming its address. Call it once at start-up, with a
// deadline in ctx.
func CheckServer(ctx context.Context, c redis.UniversalClient, p ServerPolicy) ([]ServerSettings, error) {
	log := p.Logger
	if log == nil {
		log = slog.Default()
	}
	var (
		mu    sync.Mutex // ForEachMaster and ForEachShard call concurrently
		nodes []*redis.Client
		err   error
	)
	collect := func(_ context.Context, n *redis.Client) error {
		mu.Lock()
		nodes = append(nodes, n)
		mu.Unlock()
		return nil
	}
	switch c := c.(type) {
	case *redis.Client:
		nodes = []*redis.Client{c}
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, collect)
	case *redis.Ring:
		err = c.ForEachShard(ctx, collect)
	default:
		return nil, CheckClient(c)
	}
	if err != nil {
		return nil, &UnavailableError{Addr: addrOf(c), Store: "check", Err: err}
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Options().Addr < nodes[j].Options().Addr })
	out := make([]ServerSettings, 0, len(nodes))
	for _, n := range nodes {
		s, err := readSettings(ctx, n)
		if err != nil {
			return out, err
		}
		out = append(out, s)
		switch {
		case s.MaxmemoryPolicy == "":
			log.Warn("redisstore: cannot read maxmemory-policy (CONFIG and INFO denied); make sure it is noeviction", "addr", s.Addr)
		case s.MaxmemoryPolicy != "noeviction" && !p.AllowEviction:
			return out, &baldur.ConfigError{Field: "maxmemory-policy", Value: s.MaxmemoryPolicy,
				Reason: "must be noeviction on " + s.Addr + ": an evicted key of a state store reads as absent (a kill switch off, a lock free)"}
		}
		switch s.AppendOnly {
		case "no":
			log.Warn("redisstore: appendonly is off: state written since the last snapshot is lost when the server restarts", "addr", s.Addr)
		case "":
			log.Warn("redisstore: cannot read appendonly (CONFIG and INFO denied)", "addr", s.Addr)
		}
	}
	return out, nil
}

func readSettings(ctx context.Context, n *redis.Client) (ServerSettings, error) {
	s := ServerSettings{Addr: n.Options().Addr}
	m, err := n.ConfigGet(ctx, "maxmemory-policy").Result()
	if err == nil {
		s.MaxmemoryPolicy = m["maxmemory-policy"]
		if a, err := n.ConfigGet(ctx, "appendonly").Result(); err == nil {
			s.AppendOnly = a["appendonly"]
		}
		return s, nil
	}
	if !isReply(err) {
		return s, &UnavailableError{Addr: s.Addr, Store: "check", Err: err}
	}
	// CONFIG is renamed or denied: INFO carries the same two facts.
	info, err := n.Info(ctx, "memory", "persistence").Result()
	if err != nil {
		if !isReply(err) {
			return s, &UnavailableError{Addr: s.Addr, Store: "check", Err: err}
		}
		return s, nil
	}
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
		case "maxmemory_policy":
			s.MaxmemoryPolicy = v
		case "aof_enabled":
			s.AppendOnly = map[string]string{"1": "yes", "0": "no"}[v]
		}
	}
	return s, nil
}

// isReply reports whether err is an error reply of the server (it answered),
// as opposed to a network or deadline failure.
func isReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !errors.Is(err, redis.Nil)
}

// addrOf returns the address of the client's server(s) for error messages.
func addrOf(c redis.UniversalClient) string {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().Addr
	case *redis.ClusterClient:
		return strings.Join(c.Options().Addrs, ",")
	case *redis.Ring:
		var a []string
		for _, v := range c.Options().Addrs {
			a = append(a, v)
		}
		sort.Strings(a)
		return strings.Join(a, ",")
	}
	return fmt.Sprintf("%T", c)
}
