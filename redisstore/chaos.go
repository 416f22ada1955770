package redisstore

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/chaos"
)

var (
	//go:embed chaos_put.lua
	chaosPutSource string
	//go:embed chaos_load.lua
	chaosLoadSource string
	//go:embed chaos_kill.lua
	chaosKillSource string
	//go:embed chaos_remove.lua
	chaosRemoveSource string
)

// The scripts of Chaos; pass ChaosScripts in Config.Scripts (or to
// OnConnect) to have them loaded before the first call.
var (
	ChaosPutScript    = NewScript(chaosPutSource)
	ChaosLoadScript   = NewScript(chaosLoadSource)
	ChaosKillScript   = NewScript(chaosKillSource)
	ChaosRemoveScript = NewScript(chaosRemoveSource)
	ChaosScripts      = []*Script{ChaosPutScript, ChaosLoadScript, ChaosKillScript, ChaosRemoveScript}
)

// maxChaosEntry bounds an active-set entry we accept (ours are < 2 KiB).
const maxChaosEntry = 16 << 10

// ChaosConfig configures a Chaos store. The zero value is valid.
type ChaosConfig struct {
	// Prefix starts the store's keys. Empty means DefaultPrefix.
	Prefix string
	// Service scopes the keys, so services sharing a Redis have their own
	// active sets. Empty means "default".
	Service string
}

// Chaos is a chaos.Store on one Redis primary: the fleet's active set of
// experiments, each entry a lease on the server's clock.
//
// Keys, all in one hash slot ({chaos:<service>}): <prefix>{chaos:svc}:gen
// (the generation), :lease (a sorted set of experiment IDs scored by lease
// expiry in ms), :entries (a hash of ID to the entry's JSON), and
// :run:<hex SHA-256 of the service> (the cooldown's last start, with a TTL).
// Every call is one script or command, one round trip, under the guard
// "chaos" (ClassControl deadline, the breaker on Redis).
//
// Fail mode: closed. A failing Redis fails Put and Load; the scheduler's
// Injector then keeps its copy only until its local lease ends, and stops
// injecting. An owner whose refresh fails loses its lease on the server
// within one lease too. Data under the keys that the store did not write is
// ErrMalformed. Restart without AOF: the set and generation are gone, so
// every owner's refresh returns chaos.ErrKilled or chaos.ErrGone and its
// experiment ends (nothing restarts injecting by itself).
//
// Chaos is safe for concurrent use.
type Chaos struct {
	guard               *Guard
	gen, lease, entries string
	runPrefix           string
}

var _ chaos.Store = (*Chaos)(nil)

// NewChaos returns the store on b.
func NewChaos(b *Backend, cfg ChaosConfig) (*Chaos, error) {
	if b == nil {
		return nil, &baldur.ConfigError{Field: "Backend", Reason: "is required"}
	}
	p := cfg.Prefix
	if p == "" {
		p = DefaultPrefix
	}
	svc := cfg.Service
	if svc == "" {
		svc = "default"
	}
	base := p + "{chaos:" + svc + "}:"
	return &Chaos{guard: b.Guard("chaos", ClassControl), gen: base + "gen", lease: base + "lease", entries: base + "entries", runPrefix: base + "run:"}, nil
}

// Guard returns the store's guard (its counters are the round trips).
func (c *Chaos) Guard() *Guard { return c.guard }

func (c *Chaos) keys() []string { return []string{c.gen, c.lease, c.entries} }

// Put implements chaos.Store.
func (c *Chaos) Put(ctx context.Context, gen uint64, e chaos.Entry, lease time.Duration, create bool) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	cr := "0"
	if create {
		cr = "1"
	}
	v, err := c.guard.Run(ctx, ChaosPutScript, c.keys(), strconv.FormatUint(gen, 10), e.Experiment.ID, b, msArg(lease), cr)
	if err != nil {
		return err
	}
	switch v {
	case int64(1):
		return nil
	case int64(-1):
		return chaos.ErrKilled
	case int64(-2):
		return chaos.ErrGone
	}
	return fmt.Errorf("%w: chaos put reply %v", ErrMalformed, v)
}

// Remove implements chaos.Store.
func (c *Chaos) Remove(ctx context.Context, id string) error {
	_, err := c.guard.Run(ctx, ChaosRemoveScript, c.keys(), id)
	return err
}

// Load implements chaos.Store.
func (c *Chaos) Load(ctx context.Context) (uint64, []chaos.Entry, error) {
	v, err := c.guard.Run(ctx, ChaosLoadScript, c.keys())
	if err != nil {
		return 0, nil, err
	}
	a, ok := v.([]any)
	if !ok || len(a) == 0 {
		return 0, nil, fmt.Errorf("%w: chaos load reply %T", ErrMalformed, v)
	}
	gen, ok := a[0].(int64)
	if !ok || gen < 1 {
		return 0, nil, fmt.Errorf("%w: chaos generation %v", ErrMalformed, a[0])
	}
	out := make([]chaos.Entry, 0, len(a)-1)
	for _, x := range a[1:] {
		e, err := parseChaosEntry(x)
		if err != nil {
			return 0, nil, fmt.Errorf("%w: %s: %v", ErrMalformed, c.entries, err)
		}
		out = append(out, e)
	}
	return uint64(gen), out, nil
}

// parseChaosEntry decodes one stored entry; anything that is not an entry
// this store wrote is an error, never a panic.
func parseChaosEntry(x any) (chaos.Entry, error) {
	s, ok := x.(string)
	if !ok || len(s) > maxChaosEntry {
		return chaos.Entry{}, errors.New("entry not a bounded string")
	}
	var e chaos.Entry
	if err := json.Unmarshal([]byte(s), &e); err != nil {
		return chaos.Entry{}, err
	}
	if e.Experiment.ID == "" {
		return chaos.Entry{}, errors.New("entry without an experiment ID")
	}
	switch e.Phase {
	case chaos.PhaseBefore, chaos.PhaseDuring, chaos.PhaseAfter:
	default:
		return chaos.Entry{}, fmt.Errorf("entry phase %q", e.Phase)
	}
	return e, nil
}

// KillAll implements chaos.Store.
func (c *Chaos) KillAll(ctx context.Context) (int, uint64, error) {
	v, err := c.guard.Run(ctx, ChaosKillScript, c.keys())
	if err != nil {
		return 0, 0, err
	}
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return 0, 0, fmt.Errorf("%w: chaos kill reply %v", ErrMalformed, v)
	}
	n, ok1 := a[0].(int64)
	gen, ok2 := a[1].(int64)
	if !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("%w: chaos kill reply %v", ErrMalformed, v)
	}
	return int(n), uint64(gen), nil
}

func (c *Chaos) runKey(service string) string {
	d := sha256.Sum256([]byte(service))
	return c.runPrefix + hex.EncodeToString(d[:16])
}

// LastRun implements chaos.Store.
func (c *Chaos) LastRun(ctx context.Context, service string) (time.Time, error) {
	var s string
	err := c.guard.Do(ctx, func(ctx context.Context, rc redis.UniversalClient) error {
		var err error
		s, err = rc.Get(ctx, c.runKey(service)).Result()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: chaos last run %q", ErrMalformed, s)
	}
	return time.UnixMilli(ms), nil
}

// MarkRun implements chaos.Store.
func (c *Chaos) MarkRun(ctx context.Context, service string, t time.Time, keep time.Duration) error {
	return c.guard.Do(ctx, func(ctx context.Context, rc redis.UniversalClient) error {
		return rc.Set(ctx, c.runKey(service), strconv.FormatInt(t.UnixMilli(), 10), max(keep, time.Millisecond)).Err()
	})
}
