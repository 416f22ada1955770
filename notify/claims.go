package notify

import (
	"context"
	"time"
)

// Claims shares cooldowns across the replicas of a service by
// claim-before-send: a replica claims a key for a short sending lease
// before it sends, extends the claim to the cooldown once a channel took
// the message, and deletes it when every channel failed, so that another
// replica may send. At most one replica holds a key at a time, so exactly
// one sends per key per cooldown, and a replica that dies after claiming
// delays the notice by at most the lease. redisstore.NotifyClaims
// implements it on Redis.
//
// Keys are the dedup keys of the notifications (hashes, never the raw
// keys). Implementations must be safe for concurrent use; errors are
// returned and the manager falls back to its own cooldown (counted).
type Claims interface {
	// Claim takes key for lease unless another holds it. Granted claims
	// carry a token naming the holder; refused ones the time the holder's
	// claim has left.
	Claim(ctx context.Context, key string, lease time.Duration) (Claim, error)
	// Confirm extends the claim of token to ttl; false when token no longer
	// holds key (it expired, or was cleared).
	Confirm(ctx context.Context, key, token string, ttl time.Duration) (bool, error)
	// Release deletes key while token holds it.
	Release(ctx context.Context, key, token string) error
	// Clear deletes key whoever holds it (a resolve reopens the key).
	Clear(ctx context.Context, key string) error
}

// Claim is the answer of Claims.Claim.
type Claim struct {
	Granted bool
	Token   string
	// Remaining is the time left of the holder's claim when not granted.
	Remaining time.Duration
}
