package throttle

import (
	"math"
	"strconv"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/enum"
)

// DefaultMaxKeys is the key-table capacity when Config.MaxKeys is zero:
// about 1.8 MB when every slot is used (BytesPerKey each).
const DefaultMaxKeys = 100_000

// MaxKeysLimit is the largest Config.MaxKeys, 2^24 (16,777,216) buckets:
// about 300 MB when every slot is used, and about 300 KB of index at
// construction (8 bytes per 448 keys of capacity; the buckets themselves are
// allocated in 8 KiB pages as keys arrive). A table that large already
// outgrows one process's share of memory; a larger value is more likely a
// typo than a plan.
const MaxKeysLimit = 1 << 24

// KeyBy selects what a bucket is shared by.
type KeyBy uint8

const (
	// ByKey gives each partition key (Call.Key: client IP, tenant, API key)
	// its own bucket. It is the zero value. Calls with an empty key share
	// one bucket.
	ByKey KeyBy = iota
	// ByOperation gives each operation (Call.Operation) its own bucket,
	// shared by every client.
	ByOperation
	// ByKeyAndOperation gives each (partition key, operation) pair its own
	// bucket.
	ByKeyAndOperation
	// Global shares one bucket among all calls (of a tier).
	Global
)

var keyByNames = enum.New[KeyBy]("key_by", "key", "operation", "key_and_operation", "global")

// String returns the name a configuration file uses: "key", "operation",
// "key_and_operation" or "global".
func (k KeyBy) String() string { return keyByNames.String(k) }

// MarshalText implements encoding.TextMarshaler.
func (k KeyBy) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler: one of the String
// names.
func (k *KeyBy) UnmarshalText(b []byte) error {
	v, err := keyByNames.Parse(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// TierLimit is the rate and burst of one tier.
type TierLimit struct {
	// Rate is the sustained rate, calls per second, in (0, MaxRate].
	Rate float64 `json:"rate"`
	// Burst is how many calls a full bucket admits at once; must be >= 1.
	Burst int `json:"burst"`
}

// LevelSource reports the emergency level. baldur.EmergencyManager
// implements it; it is read on every call, so Level must be cheap (an
// atomic load) and safe for concurrent use.
type LevelSource interface {
	Level() baldur.EmergencyLevel
}

// Config declares a Throttle. The zero value is invalid: Rate and Burst are
// required.
type Config struct {
	// Name names the quota policy in the RateLimit-Policy and RateLimit
	// header fields. Printable ASCII; empty means "throttle". It must not
	// identify a user.
	Name string `json:"-"`
	// Rate is the sustained rate of a bucket in calls per second, for the
	// standard and critical tiers. Required: must be in (0, MaxRate]; NaN
	// and infinities are errors.
	Rate float64 `json:"rate"`
	// Burst is the bucket size: how many calls a full bucket admits at
	// once. Required: must be >= 1.
	Burst int `json:"burst"`
	// Tiers overrides the limits of single tiers. A tier not listed uses
	// Rate and Burst, except non_essential, which defaults to half of both
	// (at least one call of burst). Each tier has its own bucket per key.
	Tiers map[baldur.Tier]TierLimit `json:"tiers,omitempty"`
	// KeyBy selects what a bucket is shared by. Zero means ByKey.
	KeyBy KeyBy `json:"key_by,omitempty"`
	// MaxKeys caps the buckets tracked in memory; see Memory for eviction.
	// Zero means DefaultMaxKeys; negative values and values above
	// MaxKeysLimit are errors. Ignored when Store is set.
	MaxKeys int `json:"max_keys,omitempty"`
	// Level is the emergency level source. Under LEVEL_1 the effective rate
	// is multiplied by 0.8, under LEVEL_2 by 0.5, and LEVEL_3 keeps the
	// factor that was in effect when it began. Nil means no emergency
	// interplay.
	Level LevelSource `json:"-"`
	// MaxWait, when positive, makes Admit wait up to this long for a token
	// instead of rejecting at once (bounded also by the context's and the
	// call's deadline). Zero means never wait; negative values are errors.
	MaxWait baldur.Duration `json:"max_wait,omitempty"`
	// Clock times waits and stands in when Call.Now is zero. Nil means
	// baldur.SystemClock().
	Clock baldur.Clock `json:"-"`
	// Store keeps bucket states. Nil means a Memory of MaxKeys buckets.
	// Errors from a Store admit the call (fail-open) and are counted.
	Store Store `json:"-"`
}

func cfgErr(field, value, reason string) error {
	return &baldur.ConfigError{Field: field, Value: value, Reason: reason}
}

func checkLimit(field string, rate float64, burst int) (Limit, error) {
	switch {
	case math.IsNaN(rate) || math.IsInf(rate, 0):
		return Limit{}, cfgErr(field+"Rate", strconv.FormatFloat(rate, 'g', -1, 64), "must be finite")
	case rate <= 0:
		return Limit{}, cfgErr(field+"Rate", strconv.FormatFloat(rate, 'g', -1, 64), "must be positive")
	case rate > MaxRate:
		return Limit{}, cfgErr(field+"Rate", strconv.FormatFloat(rate, 'g', -1, 64), "must be at most 1e9 per second")
	case burst < 1:
		return Limit{}, cfgErr(field+"Burst", strconv.Itoa(burst), "must be at least 1")
	}
	l, ok := NewLimit(rate, burst)
	if !ok {
		return Limit{}, cfgErr(field+"Burst", strconv.Itoa(burst), "burst/rate must be under 100 years")
	}
	return l, nil
}

func checkName(name string) error {
	if len(name) > 128 {
		return cfgErr("Name", name[:32]+"...", "must be at most 128 bytes")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c > 0x7e {
			return cfgErr("Name", strconv.Quote(name), "must be printable ASCII")
		}
	}
	return nil
}
