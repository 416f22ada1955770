package bench

import (
	"testing"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/bench/internal/peer"
)

// realChain is a policy of our real gates, added here as the gate packages
// land. build returns a policy that admits every call in peer.Admit mode and
// rejects every call at its throttle (or first) stage in peer.Reject mode.
type realChain struct {
	name  string
	build func(testing.TB, peer.Mode) *baldur.Policy
}

// realChains are measured by BenchmarkChain next to the peers.
//
// TODO(bench): impl=baldur, the full chain governance + throttle + blast +
// bulkhead resolved from the registry, once governance/, throttle/, blast/,
// bulkhead/ and registry/ have landed; and impl=baldur-nobreaker, the same
// without the blast stage, to report the breaker's share.
var realChains []realChain

// TODO(bench): BenchmarkGate/gate={governance,throttle,blast,bulkhead}/path={admit,reject},
// each real gate alone, once its package has landed.
