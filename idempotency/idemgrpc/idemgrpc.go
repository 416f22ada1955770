// Package idemgrpc is the gRPC adapter of package idempotency: a unary
// server interceptor that runs each guarded call at most once per
// idempotency key and answers its retries with the first response. It lives
// apart so that package idempotency does not depend on gRPC.
//
// The reply type: grpc.UnaryServerInfo does not name the handler's reply
// type, so a replay must build one. Options.NewReply returns a new reply
// message for a full method; when it is nil (or returns nil), the method's
// output type is looked up in protoregistry.GlobalFiles and GlobalTypes,
// which hold every method of generated code linked into the binary.
package idemgrpc

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/idempotency"
)

// MetadataKey is the incoming metadata key that carries the idempotency key
// (an RFC 9651 sf-string, as idempotency.ParseKey takes it); ReplayedTrailer
// marks a replayed answer with the value "true".
//
// PushbackTrailer is gRPC's retry pushback (gRFC A6): on Aborted (a
// duplicate in flight) it carries the same delay as the RetryInfo detail,
// in milliseconds, so that a client whose retry policy lists ABORTED waits
// for the first call's lease instead of its own backoff.
const (
	MetadataKey     = "idempotency-key"
	ReplayedTrailer = "idempotent-replayed"
	PushbackTrailer = "grpc-retry-pushback-ms"
)

// Options configure UnaryServerInterceptor.
type Options struct {
	// Config is the protocol part (TTL, Lease, Grace, MaxStored, Mode,
	// Require, Routes matched against full methods). Its Methods, HTTP
	// methods, must be empty here: see Methods.
	idempotency.Config
	// Methods are the guarded full methods ("/pkg.Service/Method"); empty
	// guards every unary method. Others pass through without allocating.
	Methods []string
	// Ledger stores the records. Required.
	Ledger idempotency.Ledger
	// Scope returns the caller a key belongs to (tenant or authenticated
	// principal, e.g. from the auth interceptor's context); never the peer
	// address. Required unless Unscoped.
	Scope func(ctx context.Context, fullMethod string) string
	// Unscoped accepts a nil Scope (one key space for every caller).
	Unscoped bool
	// NewReply returns a new, empty reply message of fullMethod, into which
	// a stored reply is unmarshalled. Nil (or a nil result) means the
	// output type registered in protoregistry for the method.
	NewReply func(fullMethod string) proto.Message
	// Domain namespaces this service's records.
	Domain string
	// Clock dates leases. Nil means baldur.SystemClock().
	Clock baldur.Clock
	// Metrics, when set, counts decisions.
	Metrics *idempotency.Metrics
	// Logger receives ledger errors (never a key or scope). Nil means
	// slog.Default().
	Logger *slog.Logger
}

type server struct {
	o       Options
	methods map[string]struct{}
	list    []string
	ttl     time.Duration
	lease   time.Duration
	grace   time.Duration
	max     int
	m       *idempotency.Metrics
	log     *slog.Logger
}

// UnaryServerInterceptor returns an interceptor that guards unary calls:
//
//   - methods not configured, Off routes and calls without a key when none
//     is required pass through (the first two without allocating);
//   - a missing required key, a malformed one or several: InvalidArgument;
//   - the first call runs the handler under a lease renewed every Lease/3
//     and bounded by its deadline plus Grace; an OK reply (its marshalled
//     bytes, up to MaxStored) is stored, and so is a deterministic error
//     (InvalidArgument, NotFound, AlreadyExists, PermissionDenied,
//     FailedPrecondition, OutOfRange, Unimplemented, Unauthenticated: its
//     status with details); any other code or a panic releases the key so
//     that a retry runs;
//   - a duplicate while the first runs: Aborted with a google.rpc.RetryInfo
//     (the lease left) and the same delay in trailer grpc-retry-pushback-ms;
//     after it completed: the stored reply or error,
//     with trailer idempotent-replayed: true (AlreadyExists in reject mode,
//     or when the reply was too large to store); with another request:
//     InvalidArgument ("key reused with a different request");
//   - the ledger unreachable: Unavailable and the handler does not run,
//     unless the route fails open (counted).
//
// The fingerprint is a SHA-256 over the full method and the request's
// deterministic proto encoding (proto.MarshalOptions{Deterministic: true}).
func UnaryServerInterceptor(o Options) (grpc.UnaryServerInterceptor, error) {
	if len(o.Config.Methods) != 0 {
		return nil, &baldur.ConfigError{Field: "methods", Reason: "are HTTP methods; set Options.Methods to gRPC full methods"}
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Ledger == nil {
		return nil, &baldur.ConfigError{Field: "Ledger", Reason: "is required"}
	}
	if o.Scope == nil && !o.Unscoped {
		return nil, &baldur.ConfigError{Field: "Scope", Reason: "is required: keys belong to a tenant or principal (set Unscoped for a single-tenant service)"}
	}
	s := &server{o: o, m: o.Metrics, log: o.Logger,
		ttl: or(o.TTL.D(), idempotency.TTL), lease: or(o.Lease.D(), idempotency.DefaultLease),
		grace: or(o.Grace.D(), idempotency.DefaultGrace), max: o.MaxStored}
	if s.max == 0 {
		s.max = idempotency.DefaultMaxStored
	}
	for _, m := range o.Methods {
		if !strings.HasPrefix(m, "/") || strings.Count(m, "/") != 2 {
			return nil, &baldur.ConfigError{Field: "Methods", Value: m, Reason: `must be a full method "/pkg.Service/Method"`}
		}
		if s.methods == nil {
			s.methods = make(map[string]struct{}, len(o.Methods))
		}
		s.methods[m] = struct{}{}
	}
	s.list = slices.Clone(o.Methods)
	if s.o.Clock == nil {
		s.o.Clock = baldur.SystemClock()
	}
	if s.m == nil {
		s.m = &idempotency.Metrics{}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s.intercept, nil
}

// guarded reports whether op is configured: every method when none are,
// else a scan of a short list (cheaper than hashing the name) or the map.
func (s *server) guarded(op string) bool {
	if len(s.list) == 0 {
		return true
	}
	if len(s.list) <= 8 {
		for _, m := range s.list {
			if m == op {
				return true
			}
		}
		return false
	}
	_, ok := s.methods[op]
	return ok
}

func or(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Statuses answered without running the handler, built once.
var (
	errMissing     = status.Error(codes.InvalidArgument, "idempotency: this method requires an idempotency-key metadata entry")
	errInvalid     = status.Error(codes.InvalidArgument, `idempotency: idempotency-key must be one sf-string of 1-255 printable characters, e.g. "8e03978e"`)
	errMismatch    = status.Error(codes.InvalidArgument, "idempotency: key reused with a different request")
	errDuplicate   = status.Error(codes.AlreadyExists, "idempotency: a call with this idempotency key already completed")
	errUnreplay    = status.Error(codes.AlreadyExists, "idempotency: a call with this idempotency key already completed; its reply was too large to store")
	errUnavailable = status.Error(codes.Unavailable, "idempotency: the idempotency ledger is unavailable; the call was not run")
	errNotProto    = status.Error(codes.Internal, "idempotency: the request is not a proto message")
	errNoReply     = status.Error(codes.Internal, "idempotency: no reply type known for the method; the stored reply cannot be replayed")
	errBadStored   = status.Error(codes.Internal, "idempotency: the stored reply cannot be decoded")
)

var replayedMD = metadata.Pairs(ReplayedTrailer, "true")

// Storable reports whether a call that ended with code is remembered: OK
// and the deterministic errors are; the rest release the key.
func Storable(c codes.Code) bool {
	switch c {
	case codes.OK, codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.FailedPrecondition, codes.OutOfRange, codes.Unimplemented, codes.Unauthenticated:
		return true
	}
	return false
}

func (s *server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	op := info.FullMethod
	if !s.guarded(op) {
		return handler(ctx, req)
	}
	rl := s.o.RuleFor(op)
	if rl.Off {
		return handler(ctx, req)
	}
	vals := metadata.ValueFromIncomingContext(ctx, MetadataKey)
	if len(vals) == 0 {
		s.m.Missing.Add(1)
		if rl.Require {
			return nil, errMissing
		}
		return handler(ctx, req)
	}
	key, err := idempotency.ParseKey(vals[0])
	if err != nil || len(vals) > 1 {
		s.m.Invalid.Add(1)
		return nil, errInvalid
	}
	msg, ok := req.(proto.Message)
	if !ok {
		return nil, errNotProto
	}
	fp, err := fingerprint(op, msg)
	if err != nil {
		s.m.Invalid.Add(1)
		return nil, status.Error(codes.InvalidArgument, "idempotency: the request cannot be encoded: "+err.Error())
	}
	scope := ""
	if s.o.Scope != nil {
		scope = s.o.Scope(ctx, op)
	}
	claim, err := s.o.Ledger.Claim(ctx, idempotency.ClaimRequest{
		Key:         idempotency.Key{Domain: s.o.Domain, Operation: op, Scope: scope, Key: key},
		Fingerprint: fp, Lease: s.lease, TTL: s.ttl})
	if err != nil {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "idempotency: ledger unavailable", slog.String("method", op),
			slog.Bool("fail_open", rl.FailOpen), slog.String("error", err.Error()))
		if rl.FailOpen {
			s.m.FailOpen.Add(1)
			return handler(ctx, req)
		}
		s.m.StoreError.Add(1)
		return nil, errUnavailable
	}
	switch claim.Outcome {
	case idempotency.Claimed:
		s.m.First.Add(1)
		return s.run(ctx, req, handler, &claim)
	case idempotency.Busy:
		s.m.InFlight.Add(1)
		d := retryDelay(claim.Record.ExpiresAt.Sub(s.o.Clock.Now()))
		// fails only outside a grpc server (direct calls)
		_ = grpc.SetTrailer(ctx, metadata.Pairs(PushbackTrailer, strconv.FormatInt(d.Milliseconds(), 10)))
		return nil, inProgress(d)
	case idempotency.Mismatch:
		s.m.Mismatch.Add(1)
		return nil, errMismatch
	case idempotency.Done:
		switch {
		case rl.Mode == idempotency.ModeReject:
			s.m.Duplicate.Add(1)
			return nil, errDuplicate
		case claim.Response == nil:
			s.m.Duplicate.Add(1)
			return nil, errUnreplay
		}
		reply, err := s.replay(op, claim.Response)
		if err != nil {
			return nil, err
		}
		s.m.Replayed.Add(1)
		_ = grpc.SetTrailer(ctx, replayedMD) // fails only outside a grpc server (direct calls)
		return reply, replayErr(claim.Response)
	}
	s.m.StoreError.Add(1)
	return nil, errUnavailable
}

// retryDelay is the lease left, rounded up to whole seconds as the HTTP
// Retry-After is, at least 1 s.
func retryDelay(left time.Duration) time.Duration {
	return max(time.Second, (left+time.Second-1)/time.Second*time.Second)
}

// inProgress is Aborted with a RetryInfo of d.
func inProgress(d time.Duration) error {
	st := status.New(codes.Aborted, "idempotency: a call with this idempotency key is in progress; retry later")
	if ds, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)}); err == nil {
		st = ds
	}
	return st.Err()
}

// fingerprint is the SHA-256 over the length-prefixed full method and the
// request's deterministic encoding.
func fingerprint(op string, msg proto.Message) (idempotency.Fingerprint, error) {
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	b := binary.BigEndian.AppendUint32((*bp)[:0], uint32(len(op)))
	b = append(b, op...)
	b, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend(b, msg)
	if err != nil {
		return idempotency.Fingerprint{}, err
	}
	if cap(b) <= 64<<10 {
		*bp = b
	}
	return sha256.Sum256(b), nil
}

var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (s *server) run(ctx context.Context, req any, handler grpc.UnaryHandler, claim *idempotency.Claim) (reply any, err error) {
	dl, _ := ctx.Deadline()
	k := idempotency.StartKeeper(s.o.Ledger, *claim, s.o.Clock, idempotency.LeaseLimit(s.o.Clock.Now(), dl, s.grace, s.ttl), nil)
	done := false
	defer func() {
		lost := k.Lost()
		k.Stop()
		bg := context.WithoutCancel(ctx)
		if !done { // panicked: release, and let the panic go on
			s.finish(bg, claim, nil, false, lost)
			return
		}
		st := status.Convert(err)
		if !Storable(st.Code()) {
			s.finish(bg, claim, nil, false, lost)
			return
		}
		resp := &idempotency.Response{Status: int(st.Code())}
		var merr error
		if st.Code() == codes.OK {
			if m, ok := reply.(proto.Message); ok {
				resp.Body, merr = proto.MarshalOptions{Deterministic: true}.Marshal(m)
			} else {
				merr = errNotProto
			}
		} else {
			resp.Body, merr = proto.Marshal(st.Proto())
		}
		switch {
		case merr != nil: // cannot be replayed: let a retry run
			s.finish(bg, claim, nil, false, lost)
		case len(resp.Body) > s.max:
			s.finish(bg, claim, nil, true, lost)
		default:
			s.finish(bg, claim, resp, true, lost)
		}
	}()
	reply, err = handler(ctx, req)
	done = true
	return reply, err
}

func (s *server) finish(ctx context.Context, c *idempotency.Claim, resp *idempotency.Response, store, lost bool) {
	var err error
	if store {
		if err = s.o.Ledger.Complete(ctx, c, resp); err == nil {
			s.m.Stored.Add(1)
		}
	} else if err = s.o.Ledger.Release(ctx, c); err == nil {
		s.m.Released.Add(1)
	}
	switch {
	case errors.Is(err, idempotency.ErrLeaseLost) || (err == nil && lost):
		s.m.LeaseLost.Add(1)
	case err != nil:
		s.log.LogAttrs(ctx, slog.LevelWarn, "idempotency: ledger write failed; the key frees itself when its lease ends",
			slog.String("method", c.Key.Operation), slog.Bool("store", store), slog.String("error", err.Error()))
	}
}

// replay decodes a stored OK reply into a new reply message; for a stored
// error it returns nil (replayErr gives the error).
func (s *server) replay(op string, r *idempotency.Response) (any, error) {
	if codes.Code(r.Status) != codes.OK {
		return nil, nil
	}
	m := s.newReply(op)
	if m == nil {
		return nil, errNoReply
	}
	if err := proto.Unmarshal(r.Body, m); err != nil {
		return nil, errBadStored
	}
	return m, nil
}

func replayErr(r *idempotency.Response) error {
	if codes.Code(r.Status) == codes.OK {
		return nil
	}
	var p spb.Status
	if err := proto.Unmarshal(r.Body, &p); err != nil {
		return errBadStored
	}
	return status.FromProto(&p).Err()
}

func (s *server) newReply(op string) proto.Message {
	if s.o.NewReply != nil {
		if m := s.o.NewReply(op); m != nil {
			return m
		}
	}
	// "/pkg.Service/Method" -> pkg.Service.Method
	name := protoreflect.FullName(strings.Replace(strings.TrimPrefix(op, "/"), "/", ".", 1))
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
	if err != nil {
		return nil
	}
	md, ok := d.(protoreflect.MethodDescriptor)
	if !ok {
		return nil
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
	if err != nil {
		return nil
	}
	return mt.New().Interface()
}
