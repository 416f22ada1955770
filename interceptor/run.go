package interceptor

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/baldur-go/baldur"
)

// invokeOnPool runs a unary client call on a worker of the pool that
// admitted it (t.Runs), and turns the pool's own errors into status errors.
func invokeOnPool(ctx context.Context, t *baldur.Ticket, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) error {
	err := t.Run(ctx, func(ctx context.Context) error { return invoker(ctx, method, req, reply, cc, opts...) })
	return runError(ctx, err)
}

// handleOnPool runs a unary handler on a worker of the pool that admitted
// the call (t.Runs). The response is read only when the handler returned
// in time, and so only after it was written; a timed-out handler's late
// response is dropped with it.
func handleOnPool(ctx context.Context, t *baldur.Ticket, req any, handler grpc.UnaryHandler) (any, error) {
	var resp any
	err := t.Run(ctx, func(ctx context.Context) error {
		var err error
		resp, err = handler(ctx, req)
		return err
	})
	if err != nil {
		err = runError(ctx, err)
		if pe, ok := err.(*poolError); ok {
			_ = grpc.SetTrailer(ctx, renderedCache.Get(pe.rej).trailer) // fails only outside a grpc server
		}
		return nil, err
	}
	return resp, nil
}

// runError returns what a unary call on a pool answers with: the callee's
// own error unchanged (a status error, usually), a bare context error as
// its status (Canceled, DeadlineExceeded), and the pool's timeout as a
// status error with the code and RetryInfo of its rejection
// (UNAVAILABLE) and the timeout's message, which still matches the
// timeout (errors.Is(err, bulkhead.ErrTimeout), baldur.ErrRejected).
func runError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(interface{ GRPCStatus() *status.Status }); ok {
		return err
	}
	if err == ctx.Err() {
		return status.FromContextError(err).Err()
	}
	rej, ok := baldur.AsRejection(err)
	if !ok {
		return err
	}
	p := StatusOf(rej).Proto()
	p.Message = err.Error()
	return &poolError{st: status.FromProto(p), err: err, rej: rej}
}

// poolError is the status error of a pool's timeout: a status error on the
// wire and to status.FromError, the pool's error to errors.Is and As.
type poolError struct {
	st  *status.Status
	err error
	rej *baldur.Rejection
}

func (e *poolError) Error() string              { return e.st.Err().Error() }
func (e *poolError) GRPCStatus() *status.Status { return e.st }
func (e *poolError) Unwrap() error              { return e.err }
