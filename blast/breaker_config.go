package blast

import (
	"math"
	"strconv"
	"time"

	"github.com/baldur-go/baldur"
)

// BreakerConfig configures a Breakers. The zero value is valid and gives
// these defaults: trip on 5 consecutive failures or on a
// 50 % failure ratio over a 60 s window once 10 outcomes were seen; stay open
// 60 s; then admit 3 half-open probes.
//
// Negative values are invalid. Counting fields and durations use zero for
// "the default".
type BreakerConfig struct {
	// PartitionBy selects which call fields name a partition. Default
	// ByKey.
	PartitionBy PartitionBy `json:"partition_by,omitempty"`
	// ConsecutiveFailures trips a closed breaker after this many failures
	// in a row. Default 5.
	ConsecutiveFailures int `json:"consecutive_failures,omitempty"`
	// FailureRatio trips a closed breaker when failures / (successes +
	// failures) over the window reaches it, once MinRequests outcomes were
	// seen. A fraction in (0, 1]; 1 trips only when every call failed.
	// Default 0.5.
	FailureRatio float64 `json:"failure_ratio,omitempty"`
	// MinRequests is the number of outcomes in the window before
	// FailureRatio applies. Default 10.
	MinRequests int `json:"min_requests,omitempty"`
	// Window is the rolling window over which outcomes are counted, a span
	// of time rather than a number of calls, so a quiet partition forgets
	// old failures. Default 60 s.
	Window baldur.Duration `json:"window,omitempty"`
	// BucketPeriod is the granularity of the rolling window: outcomes leave
	// the window one bucket at a time. Window is rounded up to a multiple
	// of it. Default Window/10; at most Window.
	BucketPeriod baldur.Duration `json:"bucket_period,omitempty"`
	// OpenTimeout is how long a tripped breaker rejects before it admits
	// half-open probes. Default 60 s. Any positive duration is valid: the
	// end of the open state saturates at the end of int64 time instead of
	// wrapping into the past.
	OpenTimeout baldur.Duration `json:"open_timeout,omitempty"`
	// HalfOpenProbes is how many probe calls a half-open breaker admits at
	// once; that many consecutive successes close it and one failure
	// reopens it. Default 3.
	HalfOpenProbes int `json:"half_open_probes,omitempty"`
	// ForceTTL is how long ForceOpen and ForceClosed hold when called with
	// a zero TTL. Default 90 min. Like OpenTimeout, the end of a force
	// saturates.
	ForceTTL baldur.Duration `json:"force_ttl,omitempty"`
	// MaxPartitions bounds the number of partitions kept in memory. Beyond
	// it, creating a partition evicts an idle or least recently used closed
	// one of its shard. Forced partitions are never evicted while their
	// force holds, so they count toward the bound and at most half of it
	// (at least one) may be forced at once: ForceOpen and ForceClosed of a
	// partition not yet forced return ErrTooManyForced beyond that, after
	// dropping the forces that have expired. The count may pass the bound
	// by the number of concurrent creations, and by one in a shard that
	// holds nothing but forced partitions. Default 10000, at most 2^30.
	MaxPartitions int `json:"max_partitions,omitempty"`
	// IdleTimeout is how long an unused, unforced partition is kept before
	// it may be evicted. Default 10 min.
	IdleTimeout baldur.Duration `json:"idle_timeout,omitempty"`
	// OnStateChange, when set, is called after every state change of a
	// partition, including forces and their expiry. It runs on the
	// goroutine that caused the change, after the breaker's lock is
	// released, so it may call back into the Breakers. Under concurrency,
	// calls for one partition may be observed out of order; State is the
	// truth.
	OnStateChange func(p Partition, from, to State) `json:"-"`
	// Clock is read by ForceOpen/ForceClosed, by State, and on Release when
	// a failure or probe outcome must be timed. Admit uses Call.Now. Nil
	// means baldur.SystemClock().
	Clock baldur.Clock `json:"-"`
}

const (
	defaultConsecutiveFailures = 5
	defaultFailureRatio        = 0.5
	defaultMinRequests         = 10
	defaultWindow              = 60 * time.Second
	defaultBuckets             = 10
	defaultOpenTimeout         = 60 * time.Second
	defaultHalfOpenProbes      = 3
	defaultForceTTL            = 90 * time.Minute
	defaultMaxPartitions       = 10000
	defaultIdleTimeout         = 10 * time.Minute
	maxCount                   = 1 << 30
	// maxBuckets bounds the memory of one partition (24 bytes a bucket).
	maxBuckets = 100
)

func (cfg BreakerConfig) withDefaults() (BreakerConfig, error) {
	if cfg.PartitionBy > ByKeyAndOperation {
		return cfg, &baldur.ConfigError{Field: "PartitionBy", Value: strconv.Itoa(int(cfg.PartitionBy)), Reason: "unknown partitioning"}
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"ConsecutiveFailures", &cfg.ConsecutiveFailures, defaultConsecutiveFailures},
		{"MinRequests", &cfg.MinRequests, defaultMinRequests},
		{"HalfOpenProbes", &cfg.HalfOpenProbes, defaultHalfOpenProbes},
		{"MaxPartitions", &cfg.MaxPartitions, defaultMaxPartitions},
	} {
		if err := positiveInt(f.name, f.v, f.def); err != nil {
			return cfg, err
		}
	}
	if err := checkFraction("FailureRatio", cfg.FailureRatio); err != nil {
		return cfg, err
	}
	if cfg.FailureRatio == 0 {
		cfg.FailureRatio = defaultFailureRatio
	}
	for _, f := range []struct {
		name string
		v    *baldur.Duration
		def  time.Duration
	}{
		{"Window", &cfg.Window, defaultWindow},
		{"OpenTimeout", &cfg.OpenTimeout, defaultOpenTimeout},
		{"ForceTTL", &cfg.ForceTTL, defaultForceTTL},
		{"IdleTimeout", &cfg.IdleTimeout, defaultIdleTimeout},
	} {
		if err := positiveDuration(f.name, f.v, f.def); err != nil {
			return cfg, err
		}
	}
	if err := positiveDuration("BucketPeriod", &cfg.BucketPeriod, max(1, cfg.Window.D()/defaultBuckets)); err != nil {
		return cfg, err
	}
	if cfg.BucketPeriod > cfg.Window {
		return cfg, &baldur.ConfigError{Field: "BucketPeriod", Value: cfg.BucketPeriod.String(), Reason: "must not exceed Window (" + cfg.Window.String() + ")"}
	}
	if n := bucketCount(cfg.Window.D(), cfg.BucketPeriod.D()); n > maxBuckets {
		return cfg, &baldur.ConfigError{Field: "BucketPeriod", Value: cfg.BucketPeriod.String(), Reason: "gives more than 100 buckets per Window"}
	}
	return cfg, nil
}

// bucketCount is ceil(window/period) for positive durations, without the
// overflow of (window+period-1)/period near the int64 limit.
func bucketCount(window, period time.Duration) int64 {
	n := int64(window / period)
	if window%period != 0 {
		n++
	}
	return n
}

// satAdd is a+b saturated to the int64 range, so that a deadline far in the
// future (now + a huge timeout) stays in the future.
func satAdd(a, b int64) int64 {
	s := a + b
	if (s > a) != (b > 0) {
		if b > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}

func positiveInt(field string, v *int, def int) error {
	switch {
	case *v < 0:
		return &baldur.ConfigError{Field: field, Value: strconv.Itoa(*v), Reason: "must be positive (zero means the default " + strconv.Itoa(def) + ")"}
	case *v > maxCount:
		return &baldur.ConfigError{Field: field, Value: strconv.Itoa(*v), Reason: "must be at most " + strconv.Itoa(maxCount)}
	case *v == 0:
		*v = def
	}
	return nil
}

// checkFraction rejects v unless it lies in [0, 1]; callers give zero its
// meaning (a default, or no limit).
func checkFraction(field string, v float64) error {
	if v < 0 || v > 1 || math.IsNaN(v) {
		return &baldur.ConfigError{Field: field, Value: ftoa(v), Reason: "must be a fraction in (0, 1]"}
	}
	return nil
}

func positiveDuration(field string, v *baldur.Duration, def time.Duration) error {
	if *v < 0 {
		return &baldur.ConfigError{Field: field, Value: v.String(), Reason: "must be positive (zero means the default " + def.String() + ")"}
	}
	if *v == 0 {
		*v = baldur.Duration(def)
	}
	return nil
}
