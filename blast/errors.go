package blast

import (
	"errors"

	"github.com/baldur-go/baldur"
)

// ErrBreakerOpen matches rejections by an open (or forced-open) partition
// breaker, and ErrShareCap rejections of a key over its share. Both match
// baldur.ErrRejected.
var (
	ErrBreakerOpen = baldur.ErrBreakerOpen
	ErrShareCap    = baldur.ErrShareCap
)

// ErrTooManyForced is returned by ForceOpen and ForceClosed when forcing a
// partition not yet forced would make more than half of MaxPartitions (at
// least one) forced at once. Forced partitions cannot be evicted; the limit
// keeps them from filling the table that the automatic breakers need.
var ErrTooManyForced = errors.New("blast: too many forced partitions (at most half of MaxPartitions)")
