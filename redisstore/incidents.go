package redisstore

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/lock"
	"github.com/baldur-go/baldur/watchdog"
	"github.com/redis/go-redis/v9"
)

var (
	//go:embed wd_open.lua
	wdOpenSource string
	//go:embed wd_resolve.lua
	wdResolveSource string
)

// The scripts of Incidents. Pass IncidentScripts in Config.Scripts (or to
// OnConnect) to have them loaded before the first call.
var (
	IncidentOpenScript    = NewScript(wdOpenSource)
	IncidentResolveScript = NewScript(wdResolveSource)
	IncidentScripts       = []*Script{IncidentOpenScript, IncidentResolveScript}
)

// IncidentsConfig configures Incidents. The zero value is valid.
type IncidentsConfig struct {
	// Prefix starts the store's keys. Empty means DefaultPrefix.
	Prefix string
	// Server is checked by NewIncidents. Leave AllowEviction false: an
	// evicted incident is paged again.
	Server ServerPolicy
}

// Incidents is a watchdog.IncidentStore on one Redis primary, shared by
// the fleet's watchdogs so that a leader change does not page again what
// the last leader paged. Each check's incidents are one hash,
// <prefix>{wd:<check>}:incidents (subject -> JSON record), beside its
// fence <prefix>{wd:<check>}:fence (the largest token admitted); they
// share a hash tag, so a cluster serves both from one slot. Open and
// Resolve are one script each, which compares the writer's token with the
// fence and refuses a smaller one (lock.ErrStaleToken) in the same atomic
// step as the write. A set, <prefix>wd:checks, indexes the checks with
// incidents for Checks.
//
// Subjects are stored as the checks name them: a check must not put
// secrets in a subject. Incidents have no TTL: one stays open until its
// condition clears, or an operator's brake release resolves it.
//
// Every call is under the guard "incidents" (ClassControl deadline, the
// breaker on Redis). Fail mode: errors are returned (matching
// ErrUnavailable); the watchdog then neither pages nor resolves that
// check's incidents in the pass, and reports it.
//
// Incidents is safe for concurrent use.
type Incidents struct {
	guard  *Guard
	prefix string
}

var _ watchdog.IncidentStore = (*Incidents)(nil)

// NewIncidents returns the store on b, after checking the server.
func NewIncidents(ctx context.Context, b *Backend, cfg IncidentsConfig) (*Incidents, error) {
	if b == nil {
		return nil, &baldur.ConfigError{Field: "Backend", Reason: "is required"}
	}
	if _, err := b.CheckServer(ctx, cfg.Server); err != nil {
		return nil, err
	}
	s := &Incidents{guard: b.Guard("incidents", ClassControl), prefix: cfg.Prefix}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	return s, nil
}

// Key returns the key of check's incidents (its fence is Key's base +
// ":fence").
func (s *Incidents) Key(check string) string { return s.prefix + "{wd:" + check + "}:incidents" }

func (s *Incidents) fenceKey(check string) string { return s.prefix + "{wd:" + check + "}:fence" }

func (s *Incidents) indexKey() string { return s.prefix + "wd:checks" }

// Guard returns the store's guard.
func (s *Incidents) Guard() *Guard { return s.guard }

// Open implements watchdog.IncidentStore.
func (s *Incidents) Open(ctx context.Context, inc watchdog.Incident, token uint64) (bool, error) {
	rec, err := json.Marshal(inc)
	if err != nil {
		return false, err
	}
	v, err := s.guard.Run(ctx, IncidentOpenScript, []string{s.Key(inc.Check), s.fenceKey(inc.Check)},
		strconv.FormatUint(token, 10), inc.Subject, string(rec))
	if err != nil {
		return false, err
	}
	n, err := s.fenced(v, inc.Check, token)
	if err != nil || n == 0 {
		return false, err
	}
	// The index is a second round trip, outside the script (another
	// slot): an incident whose check is missing from it is still paged
	// once and resolved; only Checks would not list it until the next
	// open.
	err = s.guard.Do(ctx, func(ctx context.Context, c redis.UniversalClient) error {
		return c.SAdd(ctx, s.indexKey(), inc.Check).Err()
	})
	return true, err
}

// fenced reads a script's {code, highest} reply.
func (s *Incidents) fenced(v any, check string, token uint64) (int64, error) {
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return 0, fmt.Errorf("%w: %s: incident reply %v", ErrMalformed, s.Key(check), v)
	}
	code, ok1 := a[0].(int64)
	h, ok2 := a[1].(int64)
	switch {
	case !ok1 || !ok2:
		return 0, fmt.Errorf("%w: %s: incident reply %v", ErrMalformed, s.Key(check), v)
	case code < 0:
		return 0, fmt.Errorf("%w: token %d, check %s has seen %d", lock.ErrStaleToken, token, check, h)
	}
	return code, nil
}

// Resolve implements watchdog.IncidentStore.
func (s *Incidents) Resolve(ctx context.Context, check, subject string, token uint64) (bool, error) {
	v, err := s.guard.Run(ctx, IncidentResolveScript, []string{s.Key(check), s.fenceKey(check)},
		strconv.FormatUint(token, 10), subject)
	if err != nil {
		return false, err
	}
	n, err := s.fenced(v, check, token)
	return n == 1, err
}

// List implements watchdog.IncidentStore: one HGETALL.
func (s *Incidents) List(ctx context.Context, check string) ([]watchdog.Incident, error) {
	var m map[string]string
	err := s.guard.Do(ctx, func(ctx context.Context, c redis.UniversalClient) error {
		var err error
		m, err = c.HGetAll(ctx, s.Key(check)).Result()
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]watchdog.Incident, 0, len(m))
	for subject, rec := range m {
		inc, err := decodeIncident(check, subject, rec)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: incident record of %q: %v", ErrMalformed, s.Key(check), subject, err)
		}
		out = append(out, inc)
	}
	return out, nil
}

// decodeIncident reads the record stored under (check, subject): a JSON
// Incident naming both, with a valid priority.
func decodeIncident(check, subject, rec string) (watchdog.Incident, error) {
	var inc watchdog.Incident
	if err := json.Unmarshal([]byte(rec), &inc); err != nil {
		return watchdog.Incident{}, err
	}
	if inc.Subject != subject || inc.Check != check {
		return watchdog.Incident{}, fmt.Errorf("record names %q/%q", inc.Check, inc.Subject)
	}
	if !inc.Priority.Valid() {
		return watchdog.Incident{}, fmt.Errorf("priority %d", inc.Priority)
	}
	return inc, nil
}

// Checks implements watchdog.IncidentStore: the index, less the checks
// whose incidents all resolved (dropped from it on the way).
func (s *Incidents) Checks(ctx context.Context) ([]string, error) {
	var names []string
	err := s.guard.Do(ctx, func(ctx context.Context, c redis.UniversalClient) error {
		var err error
		names, err = c.SMembers(ctx, s.indexKey()).Result()
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := names[:0]
	for _, name := range names {
		var n int64
		err := s.guard.Do(ctx, func(ctx context.Context, c redis.UniversalClient) error {
			var err error
			n, err = c.Exists(ctx, s.Key(name)).Result()
			return err
		})
		if err != nil {
			return nil, err
		}
		if n == 0 {
			_ = s.guard.Do(ctx, func(ctx context.Context, c redis.UniversalClient) error {
				return c.SRem(ctx, s.indexKey(), name).Err()
			})
			continue
		}
		out = append(out, name)
	}
	return out, nil
}
