package blast

import "github.com/baldur-go/baldur"

// ErrBreakerOpen matches rejections by an open (or forced-open) partition
// breaker, and ErrShareCap rejections of a key over its share. Both match
// baldur.ErrRejected.
var (
	ErrBreakerOpen = baldur.ErrBreakerOpen
	ErrShareCap    = baldur.ErrShareCap
)
