package redisstore

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/notify"
	"github.com/redis/go-redis/v9"
)

var (
	//go:embed notify_claim.lua
	notifyClaimSource string
	//go:embed notify_settle.lua
	notifySettleSource string
)

// The scripts of NotifyClaims; pass NotifyScripts in Config.Scripts to have
// them loaded before the first call.
var (
	NotifyClaimScript  = NewScript(notifyClaimSource)
	NotifySettleScript = NewScript(notifySettleSource)
	NotifyScripts      = []*Script{NotifyClaimScript, NotifySettleScript}
)

// NotifyClaimsConfig configures NotifyClaims. The zero value is valid.
type NotifyClaimsConfig struct {
	// Prefix starts the claims' keys. Empty means DefaultPrefix.
	Prefix string
	// Server is checked by NewNotifyClaims. Leave AllowEviction false: an
	// evicted claim lets a second replica send.
	Server ServerPolicy
}

// NotifyClaims is notify.Claims on Redis: the fleet-wide cooldown of the
// notification pipeline, by claim-before-send. A claim is one key,
// <prefix>notify:<dedup key>.<priority> (a hash of the notification's key,
// never the key itself; one claim per priority, so an escalated repeat is
// sent once over a lower one), holding the claimer's random token:
//
//   - Claim is SET NX PX lease (one script, one round trip): granted to
//     exactly one replica; the others learn the holder's PTTL;
//   - Confirm extends the holder's claim to the cooldown, Release deletes
//     it, both only while the token holds it (compare-and-set in a script),
//     so a late settle never touches a newer holder's claim;
//   - Clear deletes the key (a resolve reopens it).
//
// Expiry is the server's. Every call runs under the guard "notify"
// (ClassControl deadline, the breaker on Redis); errors match
// ErrUnavailable when Redis could not be reached, and the pipeline then
// falls back to its replica's own cooldown, counted.
//
// NotifyClaims is safe for concurrent use.
type NotifyClaims struct {
	guard  *Guard
	prefix string
}

var _ notify.Claims = (*NotifyClaims)(nil)

// NewNotifyClaims returns the claims on b, after checking the server (an
// evicting maxmemory-policy is a *baldur.ConfigError).
func NewNotifyClaims(ctx context.Context, b *Backend, cfg NotifyClaimsConfig) (*NotifyClaims, error) {
	if b == nil {
		return nil, &baldur.ConfigError{Field: "Backend", Reason: "is required"}
	}
	if _, err := b.CheckServer(ctx, cfg.Server); err != nil {
		return nil, err
	}
	c := &NotifyClaims{guard: b.Guard("notify", ClassControl), prefix: cfg.Prefix}
	if c.prefix == "" {
		c.prefix = DefaultPrefix
	}
	return c, nil
}

// Key returns the Redis key of the claim of dedup key k.
func (c *NotifyClaims) Key(k string) string { return c.prefix + "notify:" + k }

func ms(d time.Duration) string { return strconv.FormatInt(max(d.Milliseconds(), 1), 10) }

// Claim implements notify.Claims.
func (c *NotifyClaims) Claim(ctx context.Context, key string, lease time.Duration) (notify.Claim, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	k := c.Key(key)
	v, err := c.guard.Run(ctx, NotifyClaimScript, []string{k}, token, ms(lease))
	if err != nil {
		return notify.Claim{}, lockErr(err, k)
	}
	granted, n, err := parseNotifyClaim(v)
	if err != nil {
		return notify.Claim{}, fmt.Errorf("%w: %s: %v", ErrMalformed, k, err)
	}
	if granted {
		return notify.Claim{Granted: true, Token: token}, nil
	}
	return notify.Claim{Remaining: time.Duration(max(n, 0)) * time.Millisecond}, nil
}

// parseNotifyClaim reads the claim script's reply: {1, lease} or {0, pttl}.
func parseNotifyClaim(v any) (bool, int64, error) {
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return false, 0, fmt.Errorf("claim reply %T %v", v, v)
	}
	g, ok1 := a[0].(int64)
	n, ok2 := a[1].(int64)
	if !ok1 || !ok2 || (g != 0 && g != 1) {
		return false, 0, fmt.Errorf("claim reply %v", a)
	}
	return g == 1, n, nil
}

func (c *NotifyClaims) settle(ctx context.Context, key, token, ttlMs string) (bool, error) {
	k := c.Key(key)
	v, err := c.guard.Run(ctx, NotifySettleScript, []string{k}, token, ttlMs)
	if err != nil {
		return false, lockErr(err, k)
	}
	n, ok := v.(int64)
	if !ok || (n != 0 && n != 1) {
		return false, fmt.Errorf("%w: %s: settle reply %v", ErrMalformed, k, v)
	}
	return n == 1, nil
}

// Confirm implements notify.Claims: one round trip.
func (c *NotifyClaims) Confirm(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	return c.settle(ctx, key, token, ms(ttl))
}

// Release implements notify.Claims: one round trip.
func (c *NotifyClaims) Release(ctx context.Context, key, token string) error {
	_, err := c.settle(ctx, key, token, "0")
	return err
}

// Clear implements notify.Claims: one round trip.
func (c *NotifyClaims) Clear(ctx context.Context, key string) error {
	return c.guard.Do(ctx, func(ctx context.Context, cl redis.UniversalClient) error {
		return cl.Del(ctx, c.Key(key)).Err()
	})
}
