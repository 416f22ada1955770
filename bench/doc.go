// Package bench is the benchmark harness of baldur-go. It is its own module so
// that the peer libraries it compares against (failsafe-go,
// go-grpc-middleware's ratelimit, a hand-rolled x/time/rate + semaphore +
// gobreaker chain) never enter the library's go.mod.
//
// Three instruments live here:
//
//   - Hot-path Go benchmarks (go test -bench): the cost of admitting or
//     rejecting one call through each chain, with peers in the same binary and
//     run. Sub-benchmark names put the implementation last (impl=baldur,
//     impl=failsafe, impl=handrolled, impl=bare) so that
//     "benchstat -col /impl" prints ours and the peers side by side.
//   - Route benchmarks (route_test.go, package internal/route): the chain as a
//     service wires it, from a JSON configuration (governance, a per-tenant
//     throttle with RateLimit headers, a breaker per operation, a semaphore
//     bulkhead) in front of a real ServeMux route, a gRPC unary method and an
//     outbound Transport, keyed by the address of many clients, beside the
//     same route bare and under failsafe-go; TestRouteZeroAlloc fails when
//     one of our paths allocates more than the bare route.
//   - cmd/load: an end-to-end loopback load generator (closed and open loop,
//     bounded in requests and time) against a bare server and the guarded one,
//     over HTTP and gRPC.
//   - cmd/overload: a service of fixed capacity offered 1x, 2x and 5x its
//     capacity, without protection, with our chain and with failsafe-go's
//     bulkhead; it reports goodput, accepted latency and rejections and draws
//     overload.png. With -work cpu the service computes instead of waiting,
//     offered 20x, so that the cost of each rejection decides the goodput.
//
// run.sh runs all three and regenerates RESULTS.md; never edit RESULTS.md by
// hand.
package bench
