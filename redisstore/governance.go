package redisstore

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/governance"
	"github.com/redis/go-redis/v9"
)

var (
	//go:embed gov_write.lua
	govWriteSource string
	//go:embed gov_read.lua
	govReadSource string
)

// GovernanceScripts are the scripts Governance runs. Pass them in
// Config.Scripts (or to OnConnect) to have them loaded before the first
// call.
var GovernanceScripts = []*Script{govWrite, govRead}

var (
	govWrite = NewScript(govWriteSource)
	govRead  = NewScript(govReadSource)
)

// Defaults of GovernanceConfig.
const (
	DefaultGovernancePoll     = time.Second
	DefaultGovernanceRetries  = 64
	minGovernancePoll         = 10 * time.Millisecond
	governanceGuard           = "governance"
	governanceRecordVersion   = 1
	governanceFieldSep        = "\x1f"
	governanceUnreadableActor = "redisstore"
)

// ErrConflict is returned by UpdateEmergency when the emergency state kept
// changing under it for GovernanceConfig.ConflictRetries attempts.
var ErrConflict = errors.New("redisstore: governance: emergency state changed concurrently; retries exhausted")

// ErrOutOfMemory matches a write that Redis refused because it reached
// maxmemory (an OOM reply). Nothing was written.
var ErrOutOfMemory = errors.New("redisstore: redis is out of memory (maxmemory reached); nothing was written")

// ResetError is the read error of a Governance that found the data epoch
// changed or gone, or the version lower than one it had read: Redis lost
// its data (a restart without persistence, a failover to a replica that
// missed writes, a FLUSHALL). It matches governance.ErrStoreReset, so the
// Checker raises governance.AlertStoreReset and holds its last good state
// (Config.StaleIfError) instead of reading the empty store as "all clear".
type ResetError struct {
	// Known is the epoch this process had read; Found is the one now in
	// Redis ("" when the key is gone).
	Known, Found string
	// KnownVersion and FoundVersion are the versions, when the version
	// went back under the same epoch.
	KnownVersion, FoundVersion int64
	// Since is when this process detected the loss.
	Since time.Time
}

func (e *ResetError) Error() string {
	if e.Known == e.Found {
		return fmt.Sprintf("redisstore: governance: redis lost writes: version %d, %d was read before (detected %s)",
			e.FoundVersion, e.KnownVersion, e.Since.Format(time.RFC3339))
	}
	found := e.Found
	if found == "" {
		found = "none"
	}
	return fmt.Sprintf("redisstore: governance: redis lost its data: epoch %s, %s was read before (detected %s)",
		found, e.Known, e.Since.Format(time.RFC3339))
}

// Is makes a ResetError match governance.ErrStoreReset.
func (e *ResetError) Is(target error) bool { return target == governance.ErrStoreReset }

// GovernanceConfig configures a Governance. The zero value is valid.
type GovernanceConfig struct {
	// Name separates governance states sharing one Redis (one per
	// service or cluster): the keys are bd:{gov:<Name>}:ks, :em, :bg, :ver
	// and :epoch, the channel bd:{gov:<Name>}:chg. One hash tag, so the
	// scripts run on a Redis Cluster. Empty means "default".
	Name string
	// PollInterval is how often Watch reads the version, the bound on
	// staleness when pub/sub messages are lost. Zero means 1 s; at least
	// 10 ms.
	PollInterval time.Duration
	// ResetHold is how long reads keep failing with a *ResetError after a
	// data loss was detected (so the Checker holds its last good state),
	// unless a write through this store or AcknowledgeReset ends it first;
	// then the store's content is read as the state. Zero means
	// governance.DefaultStaleIfError (5 min): keep it equal to the
	// Checker's stale_if_error. Negative is invalid.
	ResetHold time.Duration
	// ConflictRetries bounds the attempts of UpdateEmergency when the
	// state changes between its read and its write. Zero means 64.
	ConflictRetries int
	// Clock measures ResetHold and schedules the version poll. Nil means
	// baldur.SystemClock().
	Clock baldur.Clock
	// Logger receives data-loss detections and start-up warnings. Nil
	// means slog.Default().
	Logger *slog.Logger
}

// Governance is a governance.Store shared by the fleet through Redis: kill
// switches, the emergency state and break glass, read by each replica's
// Checker when it rebuilds its snapshot (never per call).
//
//   - Every write is one script: the mutation, the data epoch created if
//     missing, INCR of the version and PUBLISH of the new version.
//   - UpdateEmergency (governance.EmergencyUpdater) is a compare-and-set
//     on the epoch and version, so concurrent Trigger and StepDown on
//     several replicas apply in one serial order.
//   - Every read returns its part with the epoch and version; an epoch
//     that changed or vanished, or a version lower than one read before,
//     is a *ResetError (governance.ErrStoreReset) for ResetHold.
//   - Watch (governance.Watcher) invalidates the Checker on each published
//     version above the one it read (pub/sub), on every resubscription,
//     and on the version poll.
//
// Governance is safe for concurrent use.
type Governance struct {
	guard   *Guard
	client  redis.UniversalClient
	keys    [numGovKeys]string
	channel string
	poll    time.Duration
	hold    time.Duration
	retries int
	clock   baldur.Clock
	log     *slog.Logger

	mu      sync.Mutex
	epoch   string // "" adopts the first epoch seen
	seen    [numParts]int64
	resetAt time.Time
	reset   *ResetError

	resets, conflicts, malformed, polls, pollHits, pubsubHits, resubscribes atomic.Uint64
}

// Key indexes; the first three are also the parts a read returns.
const (
	keyKS = iota
	keyEM
	keyBG
	keyVer
	keyEpoch
	numGovKeys
	numParts = keyVer
)

var (
	_ governance.Store            = (*Governance)(nil)
	_ governance.KillSwitchPurger = (*Governance)(nil)
	_ governance.EmergencyUpdater = (*Governance)(nil)
	_ governance.Watcher          = (*Governance)(nil)
)

// NewGovernance returns the governance store of b. It checks the server
// (an evicting maxmemory-policy is a *baldur.ConfigError: an evicted kill
// switch would read as off; AOF off is a warning) and reads the data epoch,
// creating it when Redis has none, within the control deadline. An invalid
// field of cfg is a *baldur.ConfigError naming it.
func NewGovernance(ctx context.Context, b *Backend, cfg GovernanceConfig) (*Governance, error) {
	if b == nil {
		return nil, &baldur.ConfigError{Field: "Backend", Reason: "is required"}
	}
	if cfg.Name == "" {
		cfg.Name = "default"
	}
	if strings.ContainsAny(cfg.Name, "{}") {
		return nil, &baldur.ConfigError{Field: "Name", Value: strconv.Quote(cfg.Name), Reason: "must not contain { or } (it is the keys' hash tag)"}
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultGovernancePoll
	}
	if cfg.PollInterval < minGovernancePoll {
		return nil, &baldur.ConfigError{Field: "PollInterval", Value: cfg.PollInterval.String(), Reason: "must be at least 10ms (zero means 1s)"}
	}
	if cfg.ResetHold < 0 {
		return nil, &baldur.ConfigError{Field: "ResetHold", Value: cfg.ResetHold.String(), Reason: "must not be negative (zero means 5m)"}
	}
	if cfg.ResetHold == 0 {
		cfg.ResetHold = governance.DefaultStaleIfError
	}
	if cfg.ConflictRetries < 0 {
		return nil, &baldur.ConfigError{Field: "ConflictRetries", Value: strconv.Itoa(cfg.ConflictRetries), Reason: "must not be negative (zero means 64)"}
	}
	if cfg.ConflictRetries == 0 {
		cfg.ConflictRetries = DefaultGovernanceRetries
	}
	if cfg.Clock == nil {
		cfg.Clock = baldur.SystemClock()
	}
	if cfg.Logger == nil {
		cfg.Logger = b.log
	}
	if _, err := b.CheckServer(ctx, ServerPolicy{Logger: cfg.Logger}); err != nil {
		return nil, err
	}
	tag := "bd:{gov:" + cfg.Name + "}:"
	g := &Governance{
		guard:   b.Guard(governanceGuard, ClassControl),
		client:  b.Client(),
		keys:    [numGovKeys]string{tag + "ks", tag + "em", tag + "bg", tag + "ver", tag + "epoch"},
		channel: tag + "chg",
		poll:    cfg.PollInterval,
		hold:    cfg.ResetHold,
		retries: cfg.ConflictRetries,
		clock:   cfg.Clock,
		log:     cfg.Logger,
	}
	r, err := g.write(ctx, "epoch")
	if err != nil {
		return nil, err
	}
	g.epoch = r.epoch
	return g, nil
}

// Keys returns the Redis keys of the state (kill switches, emergency, break
// glass, version, epoch) and the change channel.
func (g *Governance) Keys() (keys []string, channel string) {
	return append([]string(nil), g.keys[:]...), g.channel
}

// writeReply is the reply of the write script.
type writeReply struct {
	epoch   string
	version int64
	result  int64
}

// write runs op with args; a reply from a write that changed the state
// adopts the epoch it returns (the state this write acted on is what the
// operator now sees).
func (g *Governance) write(ctx context.Context, op string, args ...any) (writeReply, error) {
	a := make([]any, 0, 3+len(args))
	a = append(a, op, newEpoch(), g.channel)
	a = append(a, args...)
	v, err := g.guard.Run(ctx, govWrite, g.keys[:], a...)
	if err != nil {
		return writeReply{}, g.replyErr(op, err)
	}
	arr, ok := v.([]any)
	if !ok || len(arr) != 3 {
		return writeReply{}, fmt.Errorf("%w: governance write reply %v", ErrMalformed, v)
	}
	epoch, _ := arr[0].(string)
	ver, err1 := strconv.ParseInt(fmt.Sprint(arr[1]), 10, 64)
	res, ok2 := arr[2].(int64)
	if err1 != nil || !ok2 {
		return writeReply{}, fmt.Errorf("%w: governance write reply %v", ErrMalformed, v)
	}
	r := writeReply{epoch: epoch, version: ver, result: res}
	if op != "epoch" && (res != 0 || op == "ks_del" || op == "ks_purge") {
		g.adopt(epoch, "write")
	}
	return r, nil
}

func (g *Governance) replyErr(op string, err error) error {
	if !isReply(err) {
		return err
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "baldur gov: malformed"):
		g.malformed.Add(1)
		return fmt.Errorf("%w: %s: %v", ErrMalformed, op, err)
	case strings.HasPrefix(msg, "OOM"):
		return fmt.Errorf("%w: governance %s: %v", ErrOutOfMemory, op, err)
	}
	return fmt.Errorf("redisstore: governance %s: %w", op, err)
}

// adopt makes epoch the known one (after a write, an acknowledgement or
// the end of ResetHold) and forgets the versions read under the old one.
func (g *Governance) adopt(epoch, why string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if epoch == g.epoch && g.resetAt.IsZero() {
		return
	}
	if g.resetAt.IsZero() && g.epoch != "" && epoch != g.epoch {
		g.resets.Add(1) // a loss this process finds through its own write
	}
	if g.epoch != "" || !g.resetAt.IsZero() {
		g.log.Warn("redisstore: governance: adopting the state redis holds now",
			"name", g.keys[keyEpoch], "epoch", epoch, "previous", g.epoch, "by", why)
	}
	g.epoch = epoch
	g.seen = [numParts]int64{}
	g.resetAt, g.reset = time.Time{}, nil
}

func newEpoch() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// read returns part's data after checking the epoch and version.
func (g *Governance) read(ctx context.Context, part int) (any, error) {
	data, epoch, ver, err := g.readRaw(ctx, part)
	if err != nil {
		return nil, err
	}
	if err := g.observe(part, epoch, ver); err != nil {
		return nil, err
	}
	return data, nil
}

func (g *Governance) readRaw(ctx context.Context, part int) (data any, epoch string, ver int64, err error) {
	typ := "string"
	if part == keyKS {
		typ = "hash"
	}
	v, err := g.guard.Run(ctx, govRead, []string{g.keys[part], g.keys[keyVer], g.keys[keyEpoch]}, typ)
	if err != nil {
		return nil, "", 0, g.replyErr("read", err)
	}
	arr, ok := v.([]any)
	if !ok || len(arr) != 3 {
		return nil, "", 0, fmt.Errorf("%w: governance read reply %v", ErrMalformed, v)
	}
	epoch, _ = arr[0].(string)
	vs, _ := arr[1].(string)
	ver, perr := strconv.ParseInt(vs, 10, 64)
	if perr != nil || ver < 0 {
		g.malformed.Add(1)
		return nil, "", 0, fmt.Errorf("%w: %s holds %q", ErrMalformed, g.keys[keyVer], clipStr(vs))
	}
	return arr[2], epoch, ver, nil
}

// observe checks what a read saw against what this process read before.
func (g *Governance) observe(part int, epoch string, ver int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	if !g.resetAt.IsZero() {
		if now.Sub(g.resetAt) < g.hold {
			return g.reset
		}
		g.log.Warn("redisstore: governance: reset hold over; reading the state redis holds",
			"name", g.keys[keyEpoch], "epoch", epoch, "previous", g.epoch)
		g.epoch, g.seen, g.resetAt, g.reset = epoch, [numParts]int64{}, time.Time{}, nil
	}
	if g.epoch == "" && epoch != "" {
		g.epoch = epoch // nothing was known: the first epoch is the data's
	}
	if epoch != g.epoch || ver < g.seen[part] {
		g.resets.Add(1)
		g.resetAt = now
		g.reset = &ResetError{Known: g.epoch, Found: epoch, KnownVersion: g.seen[part], FoundVersion: ver, Since: now}
		g.log.Error("redisstore: governance: redis lost its data; holding the last good state",
			"error", g.reset.Error(), "hold", g.hold)
		return g.reset
	}
	g.seen[part] = ver
	return nil
}

// minSeen is the version the Checker's state is at least as new as.
func (g *Governance) minSeen() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.seen[0]
	for _, v := range g.seen[1:] {
		m = min(m, v)
	}
	return m
}

// AcknowledgeReset ends a detected data loss on this process now: the
// state Redis holds is read as the state from the next read (re-apply what
// was lost through the Checker). It is a no-op when no loss was detected.
func (g *Governance) AcknowledgeReset(ctx context.Context) error {
	g.mu.Lock()
	inReset := !g.resetAt.IsZero()
	g.mu.Unlock()
	if !inReset {
		return nil
	}
	_, epoch, _, err := g.readRaw(ctx, keyEM)
	if err != nil {
		return err
	}
	g.adopt(epoch, "acknowledgement")
	return nil
}

// GovernanceStats are a Governance's counters since it was built.
type GovernanceStats struct {
	// Guard is the guard's counters (round trips, errors, breaker).
	Guard Stats
	// Epoch is the data epoch this process reads under.
	Epoch string
	// Version is the lowest version of the three parts last read.
	Version int64
	// Resets counts detected data losses; ResetSince is when the current
	// one was detected (zero when none is being held).
	Resets     uint64
	ResetSince time.Time
	// Conflicts counts compare-and-set attempts of UpdateEmergency that
	// met a concurrent write and were retried.
	Conflicts uint64
	// Malformed counts records and keys under the store's keys that it
	// did not write (see KillSwitches for what a malformed switch means).
	Malformed uint64
	// Polls counts version polls; PollInvalidations those that found a
	// change the pub/sub message had not reported.
	Polls, PollInvalidations uint64
	// PubSubInvalidations counts published versions above the one read;
	// Resubscribes counts (re)subscriptions, each an invalidation too.
	PubSubInvalidations, Resubscribes uint64
}

// Stats returns the counters.
func (g *Governance) Stats() GovernanceStats {
	g.mu.Lock()
	epoch, since := g.epoch, g.resetAt
	g.mu.Unlock()
	return GovernanceStats{
		Guard: g.guard.Stats(), Epoch: epoch, Version: g.minSeen(),
		Resets: g.resets.Load(), ResetSince: since, Conflicts: g.conflicts.Load(), Malformed: g.malformed.Load(),
		Polls: g.polls.Load(), PollInvalidations: g.pollHits.Load(),
		PubSubInvalidations: g.pubsubHits.Load(), Resubscribes: g.resubscribes.Load(),
	}
}

// KillSwitches implements governance.Store: one round trip. A record that
// does not parse under a well-formed field (scope and pattern) is returned
// as an active switch of that scope and pattern, never expiring, with the
// reason "unreadable record: ..." (the field is the operator's intent;
// Deactivate removes it); a field that does not parse is returned with an
// invalid Scope, which the Checker ignores with
// governance.AlertKillSwitchMalformed. Both are counted in Malformed.
func (g *Governance) KillSwitches(ctx context.Context) ([]governance.KillSwitch, error) {
	data, err := g.read(ctx, keyKS)
	if err != nil {
		return nil, err
	}
	flat, ok := data.([]any)
	if !ok || len(flat)%2 != 0 {
		g.malformed.Add(1)
		return nil, fmt.Errorf("%w: %s: reply %T", ErrMalformed, g.keys[keyKS], data)
	}
	out := make([]governance.KillSwitch, 0, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		f, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		ks, err := ParseKillSwitch(f, v)
		if err != nil {
			g.malformed.Add(1)
		}
		out = append(out, ks)
	}
	return out, nil
}

// PutKillSwitch implements governance.Store: one versioned write.
func (g *Governance) PutKillSwitch(ctx context.Context, ks governance.KillSwitch) error {
	rec, err := json.Marshal(ksRecord{V: governanceRecordVersion, Reason: ks.Reason, Actor: ks.Actor, Since: ks.Since, Expires: ks.ExpiresAt})
	if err != nil {
		return err
	}
	_, err = g.write(ctx, "ks_put", killSwitchField(ks.Scope, ks.Pattern), rec)
	return err
}

// DeleteKillSwitch implements governance.Store: one versioned write (no
// version is raised when there was no such switch).
func (g *Governance) DeleteKillSwitch(ctx context.Context, scope governance.Scope, pattern string) (bool, error) {
	r, err := g.write(ctx, "ks_del", killSwitchField(scope, pattern))
	return r.result == 1, err
}

// PurgeKillSwitches implements governance.KillSwitchPurger: two round
// trips (a read, then one write deleting each expired field only if it
// still holds the record read).
func (g *Governance) PurgeKillSwitches(ctx context.Context, now time.Time) (int, error) {
	data, _, _, err := g.readRaw(ctx, keyKS)
	if err != nil {
		return 0, err
	}
	flat, _ := data.([]any)
	var args []any
	for i := 0; i+1 < len(flat); i += 2 {
		f, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		ks, err := ParseKillSwitch(f, v)
		if err == nil && !ks.ExpiresAt.IsZero() && !now.Before(ks.ExpiresAt) {
			args = append(args, f, v)
		}
	}
	if len(args) == 0 {
		return 0, nil
	}
	r, err := g.write(ctx, "ks_purge", args...)
	return int(r.result), err
}

// Emergency implements governance.Store: one round trip. A malformed record
// is an error matching ErrMalformed (the Checker holds its last good
// state, then fails open).
func (g *Governance) Emergency(ctx context.Context) (baldur.EmergencyState, error) {
	data, err := g.read(ctx, keyEM)
	if err != nil {
		return baldur.EmergencyState{}, err
	}
	s, _ := data.(string)
	st, err := ParseEmergency(s)
	if err != nil {
		g.malformed.Add(1)
		return baldur.EmergencyState{}, fmt.Errorf("%w: %s: %v", ErrMalformed, g.keys[keyEM], err)
	}
	return st, nil
}

// PutEmergency implements governance.Store: an unconditional write through
// the compare-and-set (the Checker's Emergency uses UpdateEmergency).
func (g *Governance) PutEmergency(ctx context.Context, st baldur.EmergencyState) error {
	_, err := g.UpdateEmergency(ctx, func(baldur.EmergencyState) (baldur.EmergencyState, error) { return st, nil })
	return err
}

// UpdateEmergency implements governance.EmergencyUpdater: it reads the
// state with its epoch and version (one round trip), calls fn, and writes
// fn's result only if neither changed (one round trip), retrying after a
// short random pause on a conflict, up to ConflictRetries attempts, then
// ErrConflict. A malformed stored record reads as NORMAL, so that an
// operator's write repairs it.
func (g *Governance) UpdateEmergency(ctx context.Context, fn func(baldur.EmergencyState) (baldur.EmergencyState, error)) (baldur.EmergencyState, error) {
	st, _, err := g.updateEmergency(ctx, fn)
	return st, err
}

// updateEmergency also returns the version the result was written at, or
// the one fn's error was decided at.
func (g *Governance) updateEmergency(ctx context.Context, fn func(baldur.EmergencyState) (baldur.EmergencyState, error)) (baldur.EmergencyState, int64, error) {
	for attempt := 1; ; attempt++ {
		data, epoch, ver, err := g.readRaw(ctx, keyEM)
		if err != nil {
			return baldur.EmergencyState{}, 0, err
		}
		s, _ := data.(string)
		cur, perr := ParseEmergency(s)
		if perr != nil {
			g.malformed.Add(1)
			cur = baldur.EmergencyState{}
		}
		next, err := fn(cur)
		if err != nil {
			return next, ver, err
		}
		rec, err := encodeEmergency(next)
		if err != nil {
			return cur, ver, err
		}
		r, err := g.write(ctx, "em_cas", epoch, strconv.FormatInt(ver, 10), rec)
		if err != nil {
			return cur, ver, err
		}
		if r.result == 1 {
			return next, r.version, nil
		}
		g.conflicts.Add(1)
		if attempt >= g.retries {
			return cur, ver, ErrConflict
		}
		// Back off for a random 0..attempt ms (at most 10), so that
		// contending replicas spread out.
		pause := time.Duration(mrand.Int64N(int64(min(attempt, 10))*int64(time.Millisecond) + 1))
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return cur, ver, ctx.Err()
		case <-t.C:
		}
	}
}

// BreakGlass implements governance.Store: one round trip. A malformed
// record is an error matching ErrMalformed.
func (g *Governance) BreakGlass(ctx context.Context) (governance.BreakGlass, error) {
	data, err := g.read(ctx, keyBG)
	if err != nil {
		return governance.BreakGlass{}, err
	}
	s, _ := data.(string)
	bg, err := ParseBreakGlass(s)
	if err != nil {
		g.malformed.Add(1)
		return governance.BreakGlass{}, fmt.Errorf("%w: %s: %v", ErrMalformed, g.keys[keyBG], err)
	}
	return bg, nil
}

// PutBreakGlass implements governance.Store: one versioned write.
func (g *Governance) PutBreakGlass(ctx context.Context, bg governance.BreakGlass) error {
	rec, err := json.Marshal(bgRecord{V: governanceRecordVersion, On: bg.On, Actor: bg.Actor, Reason: bg.Reason, Since: bg.Since, Expires: bg.ExpiresAt})
	if err != nil {
		return err
	}
	_, err = g.write(ctx, "bg_put", rec)
	return err
}

// Watch implements governance.Watcher (Checker.Watch runs it): it calls
// changed, serially, when the state may have changed elsewhere, until ctx
// ends:
//
//   - on each version published on the channel above the lowest version
//     this store last read (a write on any replica; ~1 round trip after
//     it commits);
//   - on every (re)subscription, since messages may have been lost while
//     the subscriber was disconnected;
//   - when the version poll (one round trip every PollInterval) finds a
//     version or epoch other than the one read: the bound when messages
//     are lost.
//
// Signals that arrive while changed runs are coalesced into one call.
func (g *Governance) Watch(ctx context.Context, changed func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	kick := make(chan struct{}, 1)
	signal := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	ps := g.client.Subscribe(ctx, g.channel)
	defer ps.Close()
	msgs := ps.ChannelWithSubscriptions(redis.WithChannelHealthCheckInterval(g.poll))

	var wg sync.WaitGroup
	defer wg.Wait() // after cancel (deferred later, runs first)
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			tick := make(chan struct{})
			t := g.clock.AfterFunc(g.poll, func() { close(tick) })
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-tick:
			}
			if g.pollOnce(ctx) {
				signal()
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-msgs:
			if !ok {
				return errors.New("redisstore: governance: subscription closed")
			}
			switch m := m.(type) {
			case *redis.Subscription:
				if m.Kind == "subscribe" {
					g.resubscribes.Add(1)
					signal()
				}
			case *redis.Message:
				v, err := strconv.ParseInt(m.Payload, 10, 64)
				if err != nil || v > g.minSeen() {
					g.pubsubHits.Add(1)
					signal()
				}
			}
		case <-kick:
			changed()
		}
	}
}

// pollOnce reads the version and epoch (one round trip) and reports
// whether they differ from what the reads saw.
func (g *Governance) pollOnce(ctx context.Context) bool {
	g.polls.Add(1)
	var vals []any
	err := g.guard.Do(ctx, func(ctx context.Context, c redis.UniversalClient) error {
		var err error
		vals, err = c.MGet(ctx, g.keys[keyVer], g.keys[keyEpoch]).Result()
		return err
	})
	if err != nil || len(vals) != 2 {
		return false // the breaker and the Checker's TTL cover an outage
	}
	vs, _ := vals[0].(string)
	epoch, _ := vals[1].(string)
	ver, _ := strconv.ParseInt(vs, 10, 64)
	g.mu.Lock()
	holding := !g.resetAt.IsZero() && g.clock.Now().Sub(g.resetAt) < g.hold
	known := g.epoch
	g.mu.Unlock()
	if holding {
		return false // reads fail until the hold ends anyway
	}
	if (epoch != known && known != "") || ver != g.minSeen() {
		g.pollHits.Add(1)
		return true
	}
	return false
}

// Records as stored (JSON, version 1). Times are RFC 3339 with
// nanoseconds; unknown fields are ignored, so a newer writer's records
// stay readable.
type ksRecord struct {
	V       int       `json:"v"`
	Reason  string    `json:"reason"`
	Actor   string    `json:"actor,omitempty"`
	Since   time.Time `json:"since,omitzero"`
	Expires time.Time `json:"expires,omitzero"`
}

type emRecord struct {
	V       int       `json:"v"`
	Level   int       `json:"level"`
	Reason  string    `json:"reason,omitempty"`
	Actor   string    `json:"actor,omitempty"`
	Since   time.Time `json:"since,omitzero"`
	Expires time.Time `json:"expires,omitzero"`
	Auto    bool      `json:"auto,omitempty"`
	From    int       `json:"from,omitempty"`
}

type bgRecord struct {
	V       int       `json:"v"`
	On      bool      `json:"on"`
	Actor   string    `json:"actor,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Since   time.Time `json:"since,omitzero"`
	Expires time.Time `json:"expires,omitzero"`
}

func killSwitchField(scope governance.Scope, pattern string) string {
	return scope.String() + governanceFieldSep + pattern
}

func clipStr(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func decodeRecord(s string, rec any, version *int) error {
	if err := json.Unmarshal([]byte(s), rec); err != nil {
		return fmt.Errorf("record %q: %v", clipStr(s), err)
	}
	if *version != governanceRecordVersion {
		return fmt.Errorf("record %q: version %d, want %d", clipStr(s), *version, governanceRecordVersion)
	}
	return nil
}

// ParseKillSwitch parses one kill-switch hash field and record as
// Governance stores them. On error it returns the documented fallback
// with the error: an active switch of the field's scope and pattern with
// the reason "unreadable record: ..." when the field parses, a switch
// with an invalid Scope (ignored by the Checker) when it does not. It
// never panics.
func ParseKillSwitch(field, value string) (governance.KillSwitch, error) {
	scopeName, pattern, ok := strings.Cut(field, governanceFieldSep)
	scope, err := governance.ParseScope(scopeName)
	if !ok || err != nil {
		return governance.KillSwitch{Scope: governance.Scope(255), Pattern: clipStr(field), Reason: "unreadable field", Actor: governanceUnreadableActor},
			fmt.Errorf("kill switch field %q: want scope%spattern", clipStr(field), `\x1f`)
	}
	var rec ksRecord
	err = decodeRecord(value, &rec, &rec.V)
	if err == nil && rec.Reason == "" {
		err = fmt.Errorf("record %q: no reason", clipStr(value))
	}
	if err != nil {
		return governance.KillSwitch{Scope: scope, Pattern: pattern, Reason: "unreadable record: " + err.Error(), Actor: governanceUnreadableActor}, err
	}
	return governance.KillSwitch{Scope: scope, Pattern: pattern, Reason: rec.Reason, Actor: rec.Actor, Since: rec.Since, ExpiresAt: rec.Expires}, nil
}

// ParseEmergency parses an emergency record as Governance stores it; ""
// is the zero state (NORMAL). A level or From outside 0..3 is an error.
func ParseEmergency(s string) (baldur.EmergencyState, error) {
	if s == "" {
		return baldur.EmergencyState{}, nil
	}
	var rec emRecord
	if err := decodeRecord(s, &rec, &rec.V); err != nil {
		return baldur.EmergencyState{}, err
	}
	l, f := baldur.EmergencyLevel(rec.Level), baldur.EmergencyLevel(rec.From)
	if rec.Level < 0 || rec.From < 0 || rec.Level > int(baldur.MaxEmergencyLevel) || rec.From > int(baldur.MaxEmergencyLevel) || !l.Valid() || !f.Valid() {
		return baldur.EmergencyState{}, fmt.Errorf("record %q: level %d from %d, want 0..3", clipStr(s), rec.Level, rec.From)
	}
	return baldur.EmergencyState{Level: l, Reason: rec.Reason, Actor: rec.Actor, Since: rec.Since, ExpiresAt: rec.Expires, Auto: rec.Auto, From: f}, nil
}

func encodeEmergency(st baldur.EmergencyState) ([]byte, error) {
	return json.Marshal(emRecord{V: governanceRecordVersion, Level: int(st.Level), Reason: st.Reason, Actor: st.Actor,
		Since: st.Since, Expires: st.ExpiresAt, Auto: st.Auto, From: int(st.From)})
}

// ParseBreakGlass parses a break-glass record as Governance stores it; ""
// is the zero state (off).
func ParseBreakGlass(s string) (governance.BreakGlass, error) {
	if s == "" {
		return governance.BreakGlass{}, nil
	}
	var rec bgRecord
	if err := decodeRecord(s, &rec, &rec.V); err != nil {
		return governance.BreakGlass{}, err
	}
	return governance.BreakGlass{On: rec.On, Actor: rec.Actor, Reason: rec.Reason, Since: rec.Since, ExpiresAt: rec.Expires}, nil
}
