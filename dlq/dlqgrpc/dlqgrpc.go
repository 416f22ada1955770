// Package dlqgrpc captures failed gRPC unary client calls into a dead-letter
// queue: give New's result to interceptor.WithDLQ. It lives apart from
// package dlq so that dlq (and everything that imports it) does not depend
// on grpc.
package dlqgrpc

import (
	"context"
	"strings"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/dlq"
)

// Capture implements interceptor.DLQ. Safe for concurrent use.
type Capture struct{ cp *dlq.CapturePoint }

// New returns the gRPC capture of cp's domain.
func New(cp *dlq.CapturePoint) *Capture { return &Capture{cp: cp} }

// CaptureCall captures a unary call that finally failed (rejected, or the
// invoker's error), applying the capture point's tier rule. A protobuf
// request is kept as its protojson form, so that masking applies to its
// fields; another value keeps the metadata only ("not_replayable"). The
// failure type of a status error is "status_<code>" ("status_unavailable").
func (c *Capture) CaptureCall(ctx context.Context, method string, tier baldur.Tier, req any, err error) {
	if !c.cp.Wants(tier, err) {
		return
	}
	e := dlq.Entry{Operation: method, Tier: tier, Origin: dlq.OriginGRPC, FailureType: dlq.FailureType(err, 0)}
	if _, rejected := baldur.AsRejection(err); !rejected && err != nil {
		if s, ok := status.FromError(err); ok {
			e.FailureType = "status_" + strings.ToLower(s.Code().String())
		}
	}
	if err != nil {
		e.Error = err.Error()
	}
	if m, ok := req.(proto.Message); ok {
		if b, merr := protojson.Marshal(m); merr == nil {
			e.Payload = b
		} else {
			e.PayloadDropped = "not_replayable"
		}
	} else if req != nil {
		e.PayloadDropped = "not_replayable"
	}
	c.cp.Capture(ctx, e)
}
