package redisstore

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/redis/go-redis/v9"
)

var (
	//go:embed fleet_heartbeat.lua
	fleetHeartbeatSource string
	//go:embed fleet_members.lua
	fleetMembersSource string
)

// The scripts of Membership; pass FleetScripts in Config.Scripts (or to
// OnConnect) to have them loaded before the first heartbeat.
var (
	FleetHeartbeatScript = NewScript(fleetHeartbeatSource)
	FleetMembersScript   = NewScript(fleetMembersSource)
	FleetScripts         = []*Script{FleetHeartbeatScript, FleetMembersScript}
)

// Defaults of MembershipConfig.
const (
	DefaultMemberTTL = 15 * time.Second
	DefaultCluster   = "default"
)

// maxRecord bounds a member record we accept (ours are < 300 bytes).
const maxRecord = 4 << 10

// Member is one live replica as its heartbeat recorded it.
type Member struct {
	// ID names the replica (a pod name); unique within the cluster.
	ID string
	// Cluster is the cluster (the service) the replica belongs to.
	Cluster string
	// Version is the replica's build version.
	Version string
	// Started is when the replica started.
	Started time.Time
	// ConfigHash identifies the configuration it runs, so an operator sees
	// replicas that did not take a reload.
	ConfigHash string
	// Canary is the canary state this replica last applied (a
	// canary.Desired.Ack), empty for none: a rollout counts a stage applied
	// when the live members report it.
	Canary string
	// Expires is when the member drops out without another heartbeat, on
	// the server's clock.
	Expires time.Time
}

// memberRecord is a member as stored: the value of its field in the
// records hash. Short names keep it small.
type memberRecord struct {
	ID      string `json:"id"`
	Version string `json:"v,omitempty"`
	Started int64  `json:"s"` // Unix ms
	Hash    string `json:"h,omitempty"`
	Canary  string `json:"c,omitempty"`
}

// parseMemberRecord reads a stored record of member id. A record that is
// not ours (not JSON, another id, a negative start, too large) is an error
// matching ErrMalformed.
func parseMemberRecord(id, s string) (memberRecord, error) {
	var r memberRecord
	if len(s) > maxRecord {
		return r, fmt.Errorf("%w: member %q: record of %d bytes", ErrMalformed, id, len(s))
	}
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return r, fmt.Errorf("%w: member %q: %v", ErrMalformed, id, err)
	}
	if r.ID != id || r.Started < 0 {
		return r, fmt.Errorf("%w: member %q: record of %q started %d", ErrMalformed, id, r.ID, r.Started)
	}
	return r, nil
}

// MembershipConfig configures a Membership. ID is required.
type MembershipConfig struct {
	// ID names this replica, unique within Cluster (a pod name). Required.
	ID string
	// Cluster groups the replicas that count together (the service). Empty
	// means DefaultCluster.
	Cluster string
	// Version is this replica's build version, shown by Members.
	Version string
	// ConfigHash identifies the configuration this replica runs; change it
	// after a reload with SetConfigHash.
	ConfigHash string
	// Started is when this replica started. Zero means when
	// NewMembership ran (on Clock).
	Started time.Time
	// TTL is how long a member stays listed after its last heartbeat.
	// Zero means 15 s.
	TTL time.Duration
	// Interval is the time between heartbeats once Start has run. Zero
	// means TTL/3; it must be less than TTL.
	Interval time.Duration
	// MinReplicas is the least Replicas reports (zero means 1). Set it to
	// the fleet's expected size so that a replica that has not heard from
	// the others yet does not take the whole of a fleet limit.
	MinReplicas int
	// Prefix starts the keys. Empty means DefaultPrefix.
	Prefix string
	// Clock times the heartbeats and dates Started. Nil means
	// baldur.SystemClock(). Expiry is on the server's clock.
	Clock baldur.Clock
	// Logger receives failed heartbeats (once per outage). Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Membership is this replica's entry in its cluster's fleet: it heartbeats
// (id, cluster, version, start time, config hash) with a TTL, lists the
// live members on demand, and keeps the live count from its last heartbeat
// for Replicas, which a fleet throttle reads on its fallback path.
//
// In Redis a cluster is two keys sharing a hash tag: <prefix>{fleet:<cluster>}
// (a sorted set of member ids scored by expiry, in ms of server time) and
// <prefix>{fleet:<cluster>}:rec (a hash of their records). Each heartbeat is
// one script, one round trip: it drops expired members, records this one,
// and sets both keys to expire with the last member, so a fleet that stops
// leaves nothing behind.
//
// Membership is safe for concurrent use.
type Membership struct {
	guard    *Guard
	id       string
	cluster  string
	version  string
	started  time.Time
	ttl      time.Duration
	interval time.Duration
	min      int64
	keys     []string
	clock    baldur.Clock
	log      *slog.Logger

	hash     atomic.Pointer[string]
	canary   atomic.Pointer[string]
	replicas atomic.Int64 // live count at the last heartbeat; 0 before
	lastOK   atomic.Int64 // Clock time of the last successful heartbeat, Unix ns
	beats    atomic.Uint64
	failures atomic.Uint64

	mu      sync.Mutex
	timer   baldur.Timer
	running bool
	failing bool
}

// NewMembership returns the membership of cfg.ID on b. It makes no round
// trip: call Start (or Heartbeat) to join.
func NewMembership(b *Backend, cfg MembershipConfig) (*Membership, error) {
	switch {
	case b == nil:
		return nil, &baldur.ConfigError{Field: "Backend", Reason: "is required"}
	case cfg.ID == "":
		return nil, &baldur.ConfigError{Field: "ID", Reason: "is required (the replica's name, e.g. its pod name)"}
	case cfg.TTL < 0:
		return nil, &baldur.ConfigError{Field: "TTL", Value: cfg.TTL.String(), Reason: "must not be negative (zero means 15s)"}
	case cfg.MinReplicas < 0:
		return nil, &baldur.ConfigError{Field: "MinReplicas", Value: strconv.Itoa(cfg.MinReplicas), Reason: "must not be negative (zero means 1)"}
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultMemberTTL
	}
	if cfg.Interval == 0 {
		cfg.Interval = cfg.TTL / 3
	}
	if cfg.Interval < 0 || cfg.Interval >= cfg.TTL {
		return nil, &baldur.ConfigError{Field: "Interval", Value: cfg.Interval.String(), Reason: "must be positive and less than TTL " + cfg.TTL.String()}
	}
	if cfg.Cluster == "" {
		cfg.Cluster = DefaultCluster
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Clock == nil {
		cfg.Clock = baldur.SystemClock()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Started.IsZero() {
		cfg.Started = cfg.Clock.Now()
	}
	key := cfg.Prefix + "{fleet:" + cfg.Cluster + "}"
	m := &Membership{guard: b.Guard("fleet", ClassControl), id: cfg.ID, cluster: cfg.Cluster, version: cfg.Version,
		started: cfg.Started, ttl: cfg.TTL, interval: cfg.Interval, min: int64(max(cfg.MinReplicas, 1)),
		keys: []string{key, key + ":rec"}, clock: cfg.Clock, log: cfg.Logger}
	m.SetConfigHash(cfg.ConfigHash)
	m.SetCanary("")
	return m, nil
}

// SetConfigHash changes the config hash the next heartbeats carry.
func (m *Membership) SetConfigHash(h string) { m.hash.Store(&h) }

// SetCanary changes the canary acknowledgement the next heartbeats carry.
func (m *Membership) SetCanary(ack string) { m.canary.Store(&ack) }

// Replicas returns the number of live replicas at the last successful
// heartbeat, this one included, and never less than MinReplicas; before the
// first heartbeat, MinReplicas. It reads one atomic: no round trip, no
// allocation. While heartbeats fail it keeps the last count (see Stats for
// how old it is).
func (m *Membership) Replicas() int {
	return int(max(m.replicas.Load(), m.min))
}

// Heartbeat records this replica until TTL from now, drops the members that
// expired, and updates Replicas: one round trip.
func (m *Membership) Heartbeat(ctx context.Context) error {
	rec, err := json.Marshal(memberRecord{ID: m.id, Version: m.version, Started: m.started.UnixMilli(), Hash: *m.hash.Load(), Canary: *m.canary.Load()})
	if err != nil {
		return err
	}
	v, err := m.guard.Run(ctx, FleetHeartbeatScript, m.keys, m.id, strconv.FormatInt(max(m.ttl.Milliseconds(), 1), 10), rec)
	if err == nil {
		var n int64
		if n, err = parseHeartbeat(v); err == nil {
			m.replicas.Store(n)
			m.lastOK.Store(m.clock.Now().UnixNano())
			m.beats.Add(1)
			m.recovered()
			return nil
		}
	}
	err = fleetErr(err, m.keys[0])
	m.failures.Add(1)
	m.mu.Lock()
	first := !m.failing
	m.failing = true
	m.mu.Unlock()
	if first {
		m.log.Warn("redisstore: fleet heartbeat failed; Replicas keeps the last count", "cluster", m.cluster, "id", m.id, "replicas", m.Replicas(), "err", err)
	}
	return err
}

func (m *Membership) recovered() {
	m.mu.Lock()
	was := m.failing
	m.failing = false
	m.mu.Unlock()
	if was {
		m.log.Info("redisstore: fleet heartbeat recovered", "cluster", m.cluster, "id", m.id, "replicas", m.Replicas())
	}
}

func parseHeartbeat(v any) (int64, error) {
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return 0, fmt.Errorf("%w: heartbeat reply %T", ErrMalformed, v)
	}
	n, ok := a[0].(int64)
	if !ok || n < 1 {
		return 0, fmt.Errorf("%w: heartbeat reply %v", ErrMalformed, a)
	}
	return n, nil
}

func fleetErr(err error, key string) error {
	if err != nil && isReply(err) && foreignData(err) {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, key, err)
	}
	return err
}

// Members returns the live members of the cluster, ordered by expiry
// (longest silent first): one round trip. A record that is not ours is
// reported by an error matching ErrMalformed, returned with the members
// that parsed.
func (m *Membership) Members(ctx context.Context) ([]Member, error) {
	v, err := m.guard.Run(ctx, FleetMembersScript, m.keys)
	if err != nil {
		return nil, fleetErr(err, m.keys[0])
	}
	return parseMembers(m.cluster, v)
}

// parseMembers reads the members script's reply.
func parseMembers(cluster string, v any) ([]Member, error) {
	a, ok := v.([]any)
	if !ok || len(a)%3 != 1 {
		return nil, fmt.Errorf("%w: members reply %T of %d", ErrMalformed, v, len(a))
	}
	var errs []error
	out := make([]Member, 0, len(a)/3)
	for i := 1; i+2 < len(a); i += 3 {
		id, _ := a[i].(string)
		score, _ := a[i+1].(string)
		exp, err := strconv.ParseFloat(score, 64)
		if err != nil || exp < 0 || exp > 1<<53 {
			errs = append(errs, fmt.Errorf("%w: member %q: expiry %q", ErrMalformed, id, score))
			continue
		}
		s, ok := a[i+2].(string)
		if !ok {
			errs = append(errs, fmt.Errorf("%w: member %q: no record", ErrMalformed, id))
			continue
		}
		r, err := parseMemberRecord(id, s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, Member{ID: id, Cluster: cluster, Version: r.Version, Started: time.UnixMilli(r.Started).UTC(),
			ConfigHash: r.Hash, Canary: r.Canary, Expires: time.UnixMilli(int64(exp)).UTC()})
	}
	return out, errors.Join(errs...)
}

// Start sends a first heartbeat (returning its error) and then heartbeats
// every Interval on the clock until Close, whatever the outcomes.
func (m *Membership) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		return nil
	}
	m.running = true
	m.mu.Unlock()
	err := m.Heartbeat(ctx)
	m.schedule()
	return err
}

func (m *Membership) schedule() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running {
		m.timer = m.clock.AfterFunc(m.interval, m.tick)
	}
}

func (m *Membership) tick() {
	_ = m.Heartbeat(context.Background())
	m.schedule()
}

// Close stops the heartbeats and removes this replica from the fleet at
// once (one round trip), instead of letting it expire after TTL.
func (m *Membership) Close(ctx context.Context) error {
	m.mu.Lock()
	m.running = false
	if m.timer != nil {
		m.timer.Stop()
	}
	m.mu.Unlock()
	return m.guard.Do(ctx, func(ctx context.Context, c redis.UniversalClient) error {
		_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZRem(ctx, m.keys[0], m.id)
			p.HDel(ctx, m.keys[1], m.id)
			return nil
		})
		return err
	})
}

// MembershipStats are a membership's counters.
type MembershipStats struct {
	// Heartbeats and Failures count heartbeats that succeeded and failed.
	Heartbeats, Failures uint64
	// LastHeartbeat is when the last successful one returned, on the
	// membership's clock (zero before the first).
	LastHeartbeat time.Time
	// Replicas is what Replicas returns.
	Replicas int
}

// Stats returns the membership's counters.
func (m *Membership) Stats() MembershipStats {
	st := MembershipStats{Heartbeats: m.beats.Load(), Failures: m.failures.Load(), Replicas: m.Replicas()}
	if ns := m.lastOK.Load(); ns != 0 {
		st.LastHeartbeat = time.Unix(0, ns)
	}
	return st
}

// StoreStats reports the membership to the collector and the admin view:
// staleness is the age of the live count Replicas serves.
func (m *Membership) StoreStats() StoreStats {
	st := StoreStats{Store: m.guard.Name()}
	if ns := m.lastOK.Load(); ns != 0 {
		st.Synced, st.Staleness = true, m.clock.Now().Sub(time.Unix(0, ns))
	}
	return st
}
