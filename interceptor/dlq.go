package interceptor

import (
	"context"

	"github.com/baldur-go/baldur"
)

// DLQ captures the unary client calls that finally failed, for a later
// replay; dlqgrpc.Capture implements it. CaptureCall is called on the
// failure path only: for a rejection (err a *baldur.Rejection; nothing was
// sent) or the invoker's error. It must not block or keep req beyond
// encoding it. Streams are not captured (they cannot be replayed).
type DLQ interface {
	CaptureCall(ctx context.Context, method string, tier baldur.Tier, req any, err error)
}

// WithDLQ captures failed unary client calls into d.
func WithDLQ(d DLQ) Option { return func(c *config) { c.dlq = d } }

// captureDLQ hands a failed call to the configured DLQ.
func (c *config) captureDLQ(ctx context.Context, method string, req any, err error) {
	tier := baldur.TierStandard
	if c.tier != nil {
		tier = c.tier(ctx, method)
	}
	c.dlq.CaptureCall(ctx, method, tier, req, err)
}
