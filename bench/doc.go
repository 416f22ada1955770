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
//   - cmd/load: an end-to-end loopback load generator (closed and open loop,
//     bounded in requests and time) against a bare server and the guarded one,
//     over HTTP and gRPC.
//   - cmd/overload: a service of fixed capacity offered 1x, 2x and 5x its
//     capacity, without protection, with our chain and with failsafe-go's
//     bulkhead; it reports goodput, accepted latency and rejections and draws
//     overload.png.
//
// run.sh runs all three and regenerates RESULTS.md; never edit RESULTS.md by
// hand.
package bench
