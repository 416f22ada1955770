package redisstore

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baldur-go/baldur/canary"
	"github.com/baldur-go/baldur/lock"
)

// CanaryAcks returns the canary.AckSource of a fleet: the live members of
// m's cluster and the canary state each last reported in its heartbeat
// (Membership.SetCanary). A member whose record is not ours is left out
// (and the error returned with the others), so it cannot acknowledge.
func CanaryAcks(m *Membership) canary.AckSource { return canaryAcks{m} }

type canaryAcks struct{ m *Membership }

func (a canaryAcks) Acks(ctx context.Context) ([]canary.Ack, error) {
	ms, err := a.m.Members(ctx)
	out := make([]canary.Ack, 0, len(ms))
	for _, m := range ms {
		out = append(out, canary.Ack{Replica: m.ID, Applied: m.Canary})
	}
	if len(out) == 0 && err != nil {
		return nil, err
	}
	return out, err
}

// CanaryWindowsConfig configures CanaryWindows.
type CanaryWindowsConfig struct {
	// Prefix starts the keys. Empty means DefaultPrefix.
	Prefix string
	// TTL is how long a window's counts are kept after its last flush.
	// Zero means one hour.
	TTL time.Duration
}

// CanaryWindows is the fleet's canary.WindowStore: every replica adds its
// counts of a window with HINCRBY, so the judge reads exact fleet-wide sums
// for both cohorts over the same wall-clock window.
//
// A window of one cohort is one hash, <prefix>{canary:<rollout>}:w:<window>:<cohort>,
// with fields "s" (successes), "f" (failures), "h<bucket>" (latency
// buckets) and "r:<reason>" (rejections). A rollout's keys share a hash
// tag, and are listed in <prefix>{canary:<rollout>}:keys for Drop; every key
// expires TTL after its last flush. Redis is only on the flush and judge
// paths (every few seconds), never on a call's.
//
// Safe for concurrent use.
type CanaryWindows struct {
	guard  *Guard
	prefix string
	ttl    time.Duration
}

// NewCanaryWindows returns the window store on b.
func NewCanaryWindows(b *Backend, cfg CanaryWindowsConfig) (*CanaryWindows, error) {
	if b == nil {
		return nil, fmt.Errorf("redisstore: canary windows: Backend is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.TTL <= 0 {
		cfg.TTL = time.Hour
	}
	return &CanaryWindows{guard: b.Guard("canary", ClassControl), prefix: cfg.Prefix, ttl: cfg.TTL}, nil
}

func (s *CanaryWindows) base(rollout string) string { return s.prefix + "{canary:" + rollout + "}" }

func (s *CanaryWindows) key(rollout string, window int64, c canary.Cohort) string {
	return s.base(rollout) + ":w:" + strconv.FormatInt(window, 10) + ":" + c.String()
}

// AddWindow adds w's counts: one transaction of HINCRBYs, one round trip.
func (s *CanaryWindows) AddWindow(ctx context.Context, rollout string, window int64, c canary.Cohort, w canary.Window) error {
	key := s.key(rollout, window, c)
	return s.guard.Do(ctx, func(ctx context.Context, rc redis.UniversalClient) error {
		_, err := rc.TxPipelined(ctx, func(p redis.Pipeliner) error {
			incr := func(field string, n uint64) {
				if n > 0 {
					p.HIncrBy(ctx, key, field, int64(n))
				}
			}
			incr("s", w.Success)
			incr("f", w.Failure)
			for b, n := range w.Latency {
				incr("h"+strconv.Itoa(b), n)
			}
			for r, n := range w.Rejected {
				incr("r:"+r, n)
			}
			p.Expire(ctx, key, s.ttl)
			p.SAdd(ctx, s.base(rollout)+":keys", key)
			p.Expire(ctx, s.base(rollout)+":keys", s.ttl)
			return nil
		})
		return err
	})
}

// Window returns the fleet's sum of (rollout, window, cohort). A field
// that is not ours is an error matching ErrMalformed; the judge then sees
// no window rather than a wrong one.
func (s *CanaryWindows) Window(ctx context.Context, rollout string, window int64, c canary.Cohort) (canary.Window, error) {
	var m map[string]string
	err := s.guard.Do(ctx, func(ctx context.Context, rc redis.UniversalClient) error {
		var err error
		m, err = rc.HGetAll(ctx, s.key(rollout, window, c)).Result()
		return err
	})
	if err != nil {
		return canary.Window{}, err
	}
	return parseCanaryWindow(m)
}

// parseCanaryWindow reads a stored window hash.
func parseCanaryWindow(m map[string]string) (canary.Window, error) {
	var w canary.Window
	for f, v := range m {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return canary.Window{}, fmt.Errorf("%w: canary window field %q: %q", ErrMalformed, f, v)
		}
		switch {
		case f == "s":
			w.Success = n
		case f == "f":
			w.Failure = n
		case strings.HasPrefix(f, "h"):
			b, err := strconv.Atoi(f[1:])
			if err != nil || b < 1 || b >= canary.HistogramBuckets {
				return canary.Window{}, fmt.Errorf("%w: canary window field %q", ErrMalformed, f)
			}
			w.Latency[b] = n
		case strings.HasPrefix(f, "r:") && len(f) > 2 && len(f) <= 66:
			if w.Rejected == nil {
				w.Rejected = map[string]uint64{}
			}
			w.Rejected[f[2:]] = n
		default:
			return canary.Window{}, fmt.Errorf("%w: canary window field %q", ErrMalformed, f)
		}
	}
	return w, nil
}

// Drop deletes a rollout's windows.
func (s *CanaryWindows) Drop(ctx context.Context, rollout string) error {
	index := s.base(rollout) + ":keys"
	return s.guard.Do(ctx, func(ctx context.Context, rc redis.UniversalClient) error {
		keys, err := rc.SMembers(ctx, index).Result()
		if err != nil {
			return err
		}
		return rc.Del(ctx, append(keys, index)...).Err()
	})
}

var _ canary.WindowStore = (*CanaryWindows)(nil)

//go:embed canary_desired.lua
var canaryDesiredSource string

// CanaryDesiredScript is the fenced publish of CanaryDesired; pass it in
// Config.Scripts to have it loaded before the first publish.
var CanaryDesiredScript = NewScript(canaryDesiredSource)

// CanaryDesired is the fleet's canary.DesiredStore: the controller
// publishes each apply, every replica's canary.Agent reads it. One hash per
// config type, <prefix>{canary-desired:<type>} (fields token and doc, the
// Desired as JSON, up to the candidate's and the snapshot's 1 MiB each),
// written by one script that refuses a token smaller than the stored one
// (lock.ErrStaleToken), so a controller that lost its lease cannot publish.
// The key has no TTL: it is the fleet's desired state until the next
// publish.
//
// Safe for concurrent use.
type CanaryDesired struct {
	guard  *Guard
	prefix string
}

// NewCanaryDesired returns the store on b; an empty prefix means
// DefaultPrefix.
func NewCanaryDesired(b *Backend, prefix string) (*CanaryDesired, error) {
	if b == nil {
		return nil, fmt.Errorf("redisstore: canary desired state: Backend is required")
	}
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &CanaryDesired{guard: b.Guard("canary", ClassControl), prefix: prefix}, nil
}

func (s *CanaryDesired) key(configType string) string {
	return s.prefix + "{canary-desired:" + configType + "}"
}

// Publish stores d unless its token is stale.
func (s *CanaryDesired) Publish(ctx context.Context, d canary.Desired) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	panicking := "0"
	if d.Panic {
		panicking = "1"
	}
	key := s.key(d.ConfigType)
	v, err := s.guard.Run(ctx, CanaryDesiredScript, []string{key}, strconv.FormatUint(d.Token, 10), panicking, b)
	if err != nil {
		if isReply(err) && foreignData(err) {
			return fmt.Errorf("%w: %s: %v", ErrMalformed, key, err)
		}
		return err
	}
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return fmt.Errorf("%w: canary publish reply %T", ErrMalformed, v)
	}
	if n, _ := a[0].(int64); n != 1 {
		return fmt.Errorf("redisstore: canary publish %s: token %d < %v: %w", d.Rollout, d.Token, a[1], lock.ErrStaleToken)
	}
	return nil
}

// Desired returns the stored state of configType.
func (s *CanaryDesired) Desired(ctx context.Context, configType string) (canary.Desired, bool, error) {
	key := s.key(configType)
	var doc string
	err := s.guard.Do(ctx, func(ctx context.Context, rc redis.UniversalClient) error {
		var err error
		doc, err = rc.HGet(ctx, key, "doc").Result()
		return err
	})
	switch {
	case errors.Is(err, redis.Nil):
		return canary.Desired{}, false, nil
	case err != nil:
		if isReply(err) && foreignData(err) {
			return canary.Desired{}, false, fmt.Errorf("%w: %s: %v", ErrMalformed, key, err)
		}
		return canary.Desired{}, false, err
	}
	var d canary.Desired
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return canary.Desired{}, false, fmt.Errorf("%w: %s: %v", ErrMalformed, key, err)
	}
	return d, true, nil
}

var _ canary.DesiredStore = (*CanaryDesired)(nil)

//go:embed canary_records.lua
var canaryRecordsSource string

// CanaryRecordsScript is the compare-and-set of CanaryRecords; pass it in
// Config.Scripts to have it loaded before the first save.
var CanaryRecordsScript = NewScript(canaryRecordsSource)

// CanaryRecords is the fleet's canary.RecordStore: one hash,
// <prefix>{canary-records}, with the version (v:<id>) and the record
// (r:<id>, JSON) of every rollout, written by one compare-and-set script,
// so a controller that replaces a crashed one takes its rollouts over
// (canary.Service.Recover) and two controllers cannot both write one
// version. Terminal rollouts stay, as the history. Safe for concurrent use.
type CanaryRecords struct {
	guard *Guard
	key   string
}

// NewCanaryRecords returns the store on b; an empty prefix means
// DefaultPrefix.
func NewCanaryRecords(b *Backend, prefix string) (*CanaryRecords, error) {
	if b == nil {
		return nil, fmt.Errorf("redisstore: canary records: Backend is required")
	}
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &CanaryRecords{guard: b.Guard("canary", ClassControl), key: prefix + "{canary-records}"}, nil
}

// Save stores rec when the stored version is prev.
func (s *CanaryRecords) Save(ctx context.Context, rec canary.Record, prev uint64) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	id := rec.Status.RolloutID
	v, err := s.guard.Run(ctx, CanaryRecordsScript, []string{s.key}, id, strconv.FormatUint(prev, 10),
		strconv.FormatUint(rec.Status.Version, 10), b)
	if err != nil {
		if isReply(err) && foreignData(err) {
			return fmt.Errorf("%w: %s: %v", ErrMalformed, s.key, err)
		}
		return err
	}
	a, ok := v.([]any)
	if !ok || len(a) == 0 {
		return fmt.Errorf("%w: canary records reply %T", ErrMalformed, v)
	}
	if n, _ := a[0].(int64); n != 1 {
		var cur any
		if len(a) > 1 {
			cur = a[1]
		}
		return fmt.Errorf("redisstore: canary record %s is at version %v, not %d: %w", id, cur, prev, canary.ErrConflict)
	}
	return nil
}

// Records returns every stored record; one that is not ours is left out
// and reported by an error matching ErrMalformed.
func (s *CanaryRecords) Records(ctx context.Context) ([]canary.Record, error) {
	var m map[string]string
	err := s.guard.Do(ctx, func(ctx context.Context, rc redis.UniversalClient) error {
		var err error
		m, err = rc.HGetAll(ctx, s.key).Result()
		return err
	})
	if err != nil {
		if isReply(err) && foreignData(err) {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, s.key, err)
		}
		return nil, err
	}
	var out []canary.Record
	var errs []error
	for f, v := range m {
		id, ok := strings.CutPrefix(f, "r:")
		if !ok {
			continue
		}
		var rec canary.Record
		if err := json.Unmarshal([]byte(v), &rec); err != nil || rec.Status.RolloutID != id {
			errs = append(errs, fmt.Errorf("%w: canary record %q", ErrMalformed, id))
			continue
		}
		out = append(out, rec)
	}
	return out, errors.Join(errs...)
}

var _ canary.RecordStore = (*CanaryRecords)(nil)
