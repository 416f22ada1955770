package throttle

import "github.com/baldur-go/baldur"

// ErrThrottled matches every throttle rejection, and baldur.ErrRejected:
//
//	errors.Is(err, throttle.ErrThrottled)
var ErrThrottled = baldur.ErrThrottled
