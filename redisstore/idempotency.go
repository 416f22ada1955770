package redisstore

import (
	"context"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/idempotency"
)

var (
	//go:embed idem_claim.lua
	idemClaimSource string
	//go:embed idem_update.lua
	idemUpdateSource string
	//go:embed idem_force.lua
	idemForceSource string
)

// The scripts of Idempotency. Pass IdempotencyScripts in Config.Scripts (or
// to OnConnect) to have them loaded before the first call.
var (
	IdemClaimScript    = NewScript(idemClaimSource)
	IdemUpdateScript   = NewScript(idemUpdateSource)
	IdemForceScript    = NewScript(idemForceSource)
	IdempotencyScripts = []*Script{IdemClaimScript, IdemUpdateScript, IdemForceScript}
)

// IdempotencyConfig configures an Idempotency ledger. The zero value is
// valid.
type IdempotencyConfig struct {
	// Prefix starts the ledger's keys. Empty means DefaultPrefix.
	Prefix string
	// Lease and TTL are the defaults of claims that give none. Zero means
	// idempotency.DefaultLease and idempotency.TTL.
	Lease, TTL time.Duration
	// Clock dates the records' claimed and completed times and the
	// expiries a claim reports. Nil means baldur.SystemClock(). Expiry
	// itself is the server's.
	Clock baldur.Clock
	// Server is checked by NewIdempotency. Leave AllowEviction false: an
	// evicted record runs the work again.
	Server ServerPolicy
}

// Idempotency is an idempotency.Ledger on one Redis primary. Each record
// is one hash under <prefix>idem:<hex SHA-256 of domain, operation, scope
// and key> (idempotency.Key.Digest): the raw key and scope are never
// stored, nor logged. Its TTL is the lease while in progress and the
// record's TTL after completion, so every record expires on its own.
//
// Each call is one script, one round trip, under the guard "idempotency"
// (ClassControl deadline, the breaker on Redis): a first request costs two
// (claim, complete), a replay one (the claim returns the stored response);
// heartbeats add one each Lease/3 of a long request.
//
//   - claim creates the record when the key is absent (atomic: one script);
//     otherwise it returns the record, and the response when it completed
//     with the same fingerprint;
//   - heartbeat, complete and release act only while the record is in
//     progress and carries the claim's token (compare-token), so a holder
//     whose lease expired cannot touch its successor's record.
//
// Fail mode: closed. An unreachable Redis is an error matching
// ErrUnavailable (within the control deadline, or at once while the
// breaker is open); the middleware answers 503 and never runs the work.
// Data under a record key that the ledger did not write is ErrMalformed.
//
// Idempotency is safe for concurrent use.
type Idempotency struct {
	guard      *Guard
	prefix     string
	lease, ttl time.Duration
	clock      baldur.Clock
}

var _ idempotency.Ledger = (*Idempotency)(nil)

// NewIdempotency returns a ledger on b, after checking the server (an
// evicting maxmemory-policy is a *baldur.ConfigError).
func NewIdempotency(ctx context.Context, b *Backend, cfg IdempotencyConfig) (*Idempotency, error) {
	if b == nil {
		return nil, &baldur.ConfigError{Field: "Backend", Reason: "is required"}
	}
	if cfg.Lease < 0 || cfg.TTL < 0 {
		return nil, &baldur.ConfigError{Field: "Lease/TTL", Reason: "must not be negative"}
	}
	if _, err := b.CheckServer(ctx, cfg.Server); err != nil {
		return nil, err
	}
	l := &Idempotency{guard: b.Guard("idempotency", ClassControl), prefix: cfg.Prefix, lease: cfg.Lease, ttl: cfg.TTL, clock: cfg.Clock}
	if l.prefix == "" {
		l.prefix = DefaultPrefix
	}
	if l.lease == 0 {
		l.lease = idempotency.DefaultLease
	}
	if l.ttl == 0 {
		l.ttl = idempotency.TTL
	}
	if l.clock == nil {
		l.clock = baldur.SystemClock()
	}
	return l, nil
}

// RecordKey returns the Redis key of k's record.
func (l *Idempotency) RecordKey(k idempotency.Key) string {
	d := k.Digest()
	return l.prefix + "idem:" + hex.EncodeToString(d[:])
}

// Guard returns the ledger's guard (its counters are the round trips).
func (l *Idempotency) Guard() *Guard { return l.guard }

func msArg(d time.Duration) string { return strconv.FormatInt(max(d.Milliseconds(), 1), 10) }

// Claim implements idempotency.Ledger.
func (l *Idempotency) Claim(ctx context.Context, req idempotency.ClaimRequest) (idempotency.Claim, error) {
	if err := idempotency.ValidKey(req.Key.Key); err != nil {
		return idempotency.Claim{}, err
	}
	c := idempotency.Claim{Key: req.Key, Lease: req.Lease, TTL: req.TTL}
	if c.Lease <= 0 {
		c.Lease = l.lease
	}
	if c.TTL <= 0 {
		c.TTL = l.ttl
	}
	token := rand.Uint64() | 1
	now := l.clock.Now()
	key := l.RecordKey(req.Key)
	v, err := l.guard.Run(ctx, IdemClaimScript, []string{key},
		strconv.FormatUint(token, 10), string(req.Fingerprint[:]), msArg(c.Lease), strconv.FormatInt(now.UnixMilli(), 10), "1")
	if err != nil {
		return idempotency.Claim{}, lockErr(err, key)
	}
	rep, err := parseIdemReply(v)
	if err != nil {
		return idempotency.Claim{}, fmt.Errorf("%w: %s: %v", ErrMalformed, key, err)
	}
	c.Outcome = rep.outcome
	c.Record = rep.record(req.Key, now)
	if c.Outcome == idempotency.Claimed {
		c.Token = token
	}
	if c.Outcome == idempotency.Done && len(rep.resp) > 0 {
		if c.Response, err = idempotency.DecodeResponse(rep.resp); err != nil {
			return idempotency.Claim{}, fmt.Errorf("%w: %s: %v", ErrMalformed, key, err)
		}
	}
	return c, nil
}

// idemReply is the claim script's reply.
type idemReply struct {
	outcome            idempotency.Outcome // 0: absent (look-up)
	status             idempotency.Status
	claimed, completed int64 // ms
	stored             int
	pttl               int64
	fp                 idempotency.Fingerprint
	resp               []byte
}

func (r *idemReply) record(k idempotency.Key, now time.Time) idempotency.Record {
	rec := idempotency.Record{Key: k, Status: r.status, Fingerprint: r.fp, ClaimedAt: time.UnixMilli(r.claimed),
		StoredBytes: r.stored, Replayable: r.status == idempotency.Completed && r.stored > 0}
	if r.completed > 0 {
		rec.CompletedAt = time.UnixMilli(r.completed)
	}
	if r.pttl >= 0 {
		rec.ExpiresAt = now.Add(time.Duration(r.pttl) * time.Millisecond)
	}
	return rec
}

// parseIdemReply reads {code, status, claimed, completed, stored, pttl,
// fingerprint, response}; anything else is an error, never a panic.
func parseIdemReply(v any) (idemReply, error) {
	var r idemReply
	a, ok := v.([]any)
	if !ok || len(a) != 8 {
		return r, fmt.Errorf("claim reply %T of %d", v, len(a))
	}
	code, ok := a[0].(int64)
	if !ok || code < 0 || code > 4 {
		return r, fmt.Errorf("claim reply code %v", a[0])
	}
	if code == 0 {
		return r, nil
	}
	r.outcome = idempotency.Outcome(code)
	str := func(i int) (string, bool) { s, ok := a[i].(string); return s, ok }
	st, ok1 := str(1)
	claimed, ok2 := str(2)
	completed, ok3 := str(3)
	stored, ok4 := str(4)
	pttl, ok5 := a[5].(int64)
	fp, ok6 := str(6)
	resp, ok7 := str(7)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || !ok7 {
		return r, errors.New("claim reply field types")
	}
	switch st {
	case "0":
		r.status = idempotency.InProgress
	case "1":
		r.status = idempotency.Completed
	default:
		return r, fmt.Errorf("status %q", st)
	}
	if r.outcome != idempotency.Mismatch && (r.outcome == idempotency.Done) != (r.status == idempotency.Completed) {
		return r, fmt.Errorf("outcome %v with status %v", r.outcome, r.status)
	}
	if len(fp) != len(r.fp) {
		return r, fmt.Errorf("fingerprint of %d bytes", len(fp))
	}
	copy(r.fp[:], fp)
	var err error
	if r.claimed, err = strconv.ParseInt(claimed, 10, 64); err != nil {
		return r, fmt.Errorf("claimed: %v", err)
	}
	if completed != "" {
		if r.completed, err = strconv.ParseInt(completed, 10, 64); err != nil {
			return r, fmt.Errorf("completed: %v", err)
		}
	}
	if stored != "" {
		n, err := strconv.ParseUint(stored, 10, 31)
		if err != nil {
			return r, fmt.Errorf("stored: %v", err)
		}
		r.stored = int(n)
	}
	r.pttl = pttl
	if resp != "" {
		r.resp = []byte(resp)
	}
	return r, nil
}

// update runs the compare-token script; ErrLeaseLost when the token no
// longer holds the key.
func (l *Idempotency) update(ctx context.Context, c *idempotency.Claim, args ...any) error {
	if c.Outcome != idempotency.Claimed {
		return idempotency.ErrLeaseLost
	}
	key := l.RecordKey(c.Key)
	v, err := l.guard.Run(ctx, IdemUpdateScript, []string{key}, args...)
	if err != nil {
		return lockErr(err, key)
	}
	if n, ok := v.(int64); !ok || n != 1 {
		return idempotency.ErrLeaseLost
	}
	return nil
}

// Heartbeat implements idempotency.Ledger.
func (l *Idempotency) Heartbeat(ctx context.Context, c *idempotency.Claim, lease time.Duration) error {
	if lease <= 0 {
		lease = c.Lease
	}
	return l.update(ctx, c, "beat", strconv.FormatUint(c.Token, 10), msArg(lease))
}

// Complete implements idempotency.Ledger.
func (l *Idempotency) Complete(ctx context.Context, c *idempotency.Claim, resp *idempotency.Response) error {
	var blob []byte
	if resp != nil {
		blob = resp.AppendEncode(make([]byte, 0, resp.Size()))
	}
	return l.update(ctx, c, "done", strconv.FormatUint(c.Token, 10), msArg(c.TTL),
		strconv.FormatInt(l.clock.Now().UnixMilli(), 10), strconv.Itoa(len(blob)), blob)
}

// Release implements idempotency.Ledger.
func (l *Idempotency) Release(ctx context.Context, c *idempotency.Claim) error {
	return l.update(ctx, c, "free", strconv.FormatUint(c.Token, 10))
}

// Lookup implements idempotency.Ledger: one round trip, without the body.
func (l *Idempotency) Lookup(ctx context.Context, k idempotency.Key) (idempotency.Record, bool, error) {
	key := l.RecordKey(k)
	now := l.clock.Now()
	v, err := l.guard.Run(ctx, IdemClaimScript, []string{key}, "0", "", "1", "0", "0")
	if err != nil {
		return idempotency.Record{}, false, lockErr(err, key)
	}
	rep, err := parseIdemReply(v)
	if err != nil {
		return idempotency.Record{}, false, fmt.Errorf("%w: %s: %v", ErrMalformed, key, err)
	}
	if rep.outcome == 0 {
		return idempotency.Record{}, false, nil
	}
	return rep.record(k, now), true, nil
}

// ForceRelease implements idempotency.Ledger.
func (l *Idempotency) ForceRelease(ctx context.Context, k idempotency.Key) (bool, error) {
	key := l.RecordKey(k)
	v, err := l.guard.Run(ctx, IdemForceScript, []string{key})
	if err != nil {
		return false, lockErr(err, key)
	}
	n, _ := v.(int64)
	return n == 1, nil
}
