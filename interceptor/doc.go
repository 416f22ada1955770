// Package interceptor guards gRPC servers and clients with baldur policies.
//
// Each interceptor resolves the Policy of the call's full method
// ("/pkg.Service/Method") from a baldur.Resolver, builds one baldur.Call
// (operation, service, region, tier, partition key, deadline, one clock
// reading), admits it, and releases the Ticket with the call's Outcome when
// the call is over (WithLatency adds a second clock reading to report the
// call's latency). A resolver that resolves per key (baldur.KeyedResolver:
// the registry, which splits keys into cohorts during a canary rollout) is
// asked with the call's partition key, so a tenant is served by its
// cohort's policy; the key is then computed before resolution, also for an
// unguarded method:
//
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(interceptor.UnaryServerInterceptor(reg)),
//		grpc.ChainStreamInterceptor(interceptor.StreamServerInterceptor(reg)),
//	)
//	conn, err := grpc.NewClient(target,
//		grpc.WithChainUnaryInterceptor(interceptor.UnaryClientInterceptor(reg)),
//		grpc.WithChainStreamInterceptor(interceptor.StreamClientInterceptor(reg)),
//	)
//
// A nil Policy admits the call at no cost, so one resolver can guard some
// methods and leave others alone.
//
// # Lifetimes
//
// A unary call holds its permits while the handler (or, on the client, the
// invoker) runs. A server stream holds them until the stream handler
// returns, that is for the whole stream. A client stream holds them until
// the stream is over: RecvMsg returns io.EOF or an error (or, for a stream
// without server streaming, its one message), Header or SendMsg fail, or the
// caller's context ends. When the handler panics the permits are released
// with a Failure outcome and the panic goes on unchanged (nothing is
// recovered, so the original stack is kept).
//
// # Outcomes
//
// The status code of the call decides its Result, by one table that follows
// the standard gRPC-to-HTTP mapping so that the gRPC and HTTP adapters teach
// the breakers and the error budget the same lesson: codes that map to 5xx
// are failures of the callee (Unknown, DeadlineExceeded, Unimplemented,
// Internal, Unavailable, DataLoss), codes that map to 4xx say nothing about
// its health and are ignored (Canceled, InvalidArgument, NotFound,
// AlreadyExists, PermissionDenied, ResourceExhausted, FailedPrecondition,
// Aborted, OutOfRange, Unauthenticated), OK is a success. ResourceExhausted
// is ignored on purpose: it is the 429 of gRPC, a quota of the caller, and
// baldur itself answers throttling with it; counting it as a failure would
// let one greedy client open a breaker for everyone. A handler error that is
// not a status error counts as Unknown, a bare context error as Canceled or
// DeadlineExceeded. See [Result].
//
// # Rejections
//
// A rejected call never reaches the handler or the network. The error is a
// real status error: the code from the rejection table
// (Rejection.GRPCCode: UNAVAILABLE, RESOURCE_EXHAUSTED or
// DEADLINE_EXCEEDED), a message naming the gate and the reason, and two
// details: google.rpc.RetryInfo with the advised delay and google.rpc.ErrorInfo
// (reason "THROTTLED", "BREAKER_OPEN", ...; domain "baldur"; metadata
// "gate"). Server interceptors also set the grpc-retry-pushback-ms trailer,
// which grpc-go's built-in retry honors: a client with a retryPolicy waits
// at least the advised delay before its next attempt. A rejection for too
// short a deadline sends a negative pushback, which tells such clients not
// to retry at all. Context errors seen while admitting become
// status.FromContextError; no interceptor ever returns a non-status error of
// its own. Rendered rejections are cached per interned baldur.Rejection, so
// rejecting allocates nothing before grpc writes the status.
//
// # Keys and tiers
//
// By default a server call is keyed by the peer's IP address and is of the
// standard tier. Metadata ("baldur-key", "baldur-tier"; see WithKeyMetadata,
// WithTierMetadata) is believed only when the peer address is in a range given
// to WithTrustedPeers, such as the addresses of an internal gateway, so that a
// client cannot pick its own partition or promote itself to the critical tier.
// A peer on a unix socket has no address: its calls get the empty partition
// key, and its metadata is believed only with WithTrustedLocalSockets (a
// warning is logged once per process when such calls only ever get the empty
// key). WithKey and WithTier replace the defaults entirely. A client call is
// keyed by the ClientConn's target, so per-partition gates (breakers) partition
// by upstream.
//
// # The tap handle
//
// InHandle runs in grpc's transport before the request is decoded or a
// goroutine is spent on it, which makes it the cheapest place to shed. It
// can only check: it admits and at once releases (with an Ignored outcome),
// so it cannot hold a bulkhead permit across the call, and it runs under the
// connection's lock, so its gates must not wait. Give it a resolver of
// non-holding, non-waiting gates (governance, throttle) and leave the
// holding ones (blast, bulkhead) to the interceptors; do not give both the
// same throttle, or each call is counted twice. A rejection there carries
// its status and details but no pushback trailer (grpc writes no trailers
// for a tap rejection), so retrying clients fall back on their own backoff.
//
// # go-grpc-middleware
//
// The interceptors are plain grpc-go interceptors and chain with those of
// github.com/grpc-ecosystem/go-grpc-middleware/v2 (recovery, logging,
// selector to guard only some methods). NewLimiter makes any policy (the
// throttle, say) a ratelimit.Limiter of that module, for code already built
// around its ratelimit interceptor; the guard interceptors here give richer
// rejections.
package interceptor
