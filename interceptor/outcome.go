package interceptor

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/baldur-go/baldur"
)

// results is the one table from status code to Result (see the package
// documentation): the codes the standard gRPC-to-HTTP mapping sends to 5xx
// are failures, those it sends to 4xx are ignored.
var results = [...]baldur.Result{
	codes.OK:                 baldur.Success,
	codes.Canceled:           baldur.Ignored, // 499: the caller gave up
	codes.Unknown:            baldur.Failure, // 500
	codes.InvalidArgument:    baldur.Ignored, // 400
	codes.DeadlineExceeded:   baldur.Failure, // 504: too slow
	codes.NotFound:           baldur.Ignored, // 404
	codes.AlreadyExists:      baldur.Ignored, // 409
	codes.PermissionDenied:   baldur.Ignored, // 403
	codes.ResourceExhausted:  baldur.Ignored, // 429: the caller's quota
	codes.FailedPrecondition: baldur.Ignored, // 400
	codes.Aborted:            baldur.Ignored, // 409: a conflict, retry higher up
	codes.OutOfRange:         baldur.Ignored, // 400
	codes.Unimplemented:      baldur.Failure, // 501
	codes.Internal:           baldur.Failure, // 500
	codes.Unavailable:        baldur.Failure, // 503
	codes.DataLoss:           baldur.Failure, // 500
	codes.Unauthenticated:    baldur.Ignored, // 401
}

// Result classifies a finished call by its status code, as the
// interceptors do when they release a call's permits. Codes outside the
// table count as failures.
func Result(code codes.Code) baldur.Result {
	if int(code) < len(results) {
		return results[code]
	}
	return baldur.Failure
}

// codeOf returns the status code grpc answers err with: a status error's
// code, Canceled or DeadlineExceeded for a bare context error, Unknown for
// any other error.
func codeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	if se, ok := err.(interface{ GRPCStatus() *status.Status }); ok {
		return se.GRPCStatus().Code()
	}
	switch {
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	return status.Code(err)
}

func outcomeOf(err error, latency time.Duration) baldur.Outcome {
	code := codeOf(err)
	return baldur.Outcome{Result: Result(code), Latency: latency, Status: int(code)}
}

// panicked is the outcome of a call whose handler panicked.
func panicked(latency time.Duration) baldur.Outcome {
	return baldur.Outcome{Result: baldur.Failure, Latency: latency, Status: int(codes.Internal)}
}
