package interceptor

import (
	"context"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/internal/render"
)

// PushbackTrailer is the trailer grpc-go's retry reads the server's advised
// delay from, in milliseconds; a negative value asks it not to retry.
const PushbackTrailer = "grpc-retry-pushback-ms"

// ErrorDomain is the google.rpc.ErrorInfo domain of baldur rejections.
const ErrorDomain = "baldur"

// rendered is a rejection as gRPC answers it, built once per interned
// Rejection. Both fields are read-only once built: grpc copies the trailer
// (metadata.Join) and reads the status without changing it.
type rendered struct {
	err     error
	trailer metadata.MD
}

var renderedCache = render.Cache[*rendered]{Build: newRendered}

func newRendered(rej *baldur.Rejection) *rendered {
	st := StatusOf(rej)
	return &rendered{
		err:     &rejectionError{st: st, rej: rej, msg: st.Err().Error()},
		trailer: metadata.MD{PushbackTrailer: {pushback(rej)}},
	}
}

// rejectionError is a status error (status.FromError and status.Code see
// its status) that also matches the rejection it renders, so that a caller
// of a client-side rejection can test errors.Is(err, baldur.ErrRejected) or
// a reason's sentinel. On the wire it is a plain status.
type rejectionError struct {
	st  *status.Status
	rej *baldur.Rejection
	msg string
}

func (e *rejectionError) Error() string              { return e.msg }
func (e *rejectionError) GRPCStatus() *status.Status { return e.st }
func (e *rejectionError) Unwrap() error              { return e.rej }

// StatusOf returns the gRPC status the interceptors answer rej with: the
// code of the rejection table, a message naming gate and reason, a
// google.rpc.ErrorInfo (reason in upper snake case, domain "baldur",
// metadata "gate") and, unless the deadline was too short to serve at all,
// a google.rpc.RetryInfo with the advised delay.
func StatusOf(rej *baldur.Rejection) *status.Status {
	st := status.New(codes.Code(rej.GRPCCode()), rej.Error())
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{
		Reason:   strings.ToUpper(rej.Reason().String()),
		Domain:   ErrorDomain,
		Metadata: map[string]string{"gate": rej.Gate()},
	}}
	if rej.Reason() != baldur.ReasonDeadline {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(rej.RetryAfter())})
	}
	if d, err := st.WithDetails(details...); err == nil {
		st = d
	}
	return st
}

func pushback(rej *baldur.Rejection) string {
	if rej.Reason() == baldur.ReasonDeadline {
		return "-1" // the same call with less time left cannot do better
	}
	return strconv.FormatInt(rej.RetryAfter().Milliseconds(), 10)
}

// admitError turns an error of Policy.Admit into the status error an
// interceptor returns; server interceptors also get the pushback trailer to
// set.
func admitError(err error) (metadata.MD, error) {
	rej, ok := err.(*baldur.Rejection)
	if !ok {
		rej, ok = baldur.AsRejection(err)
	}
	if ok {
		rd := renderedCache.Get(rej)
		return rd.trailer, rd.err
	}
	if _, isStatus := status.FromError(err); isStatus {
		return nil, err
	}
	return nil, status.FromContextError(err).Err()
}

// rejectUnary answers a rejected unary server call.
func rejectUnary(ctx context.Context, err error) error {
	md, e := admitError(err)
	if md != nil {
		_ = grpc.SetTrailer(ctx, md) // fails only outside a grpc server (direct calls)
	}
	return e
}
