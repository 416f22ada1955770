// Package route builds the user-shaped route of the benchmarks: the chain a
// service declares in its JSON configuration (governance, a per-tenant
// throttle with RateLimit headers, a breaker partitioned by operation and a
// semaphore bulkhead), loaded by the registry as a service loads it, in
// front of a real http.ServeMux route, a gRPC unary method and an outbound
// transport, beside the same route bare and guarded by failsafe-go.
package route

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/registry"
)

// The operations of the route: the ServeMux pattern, the gRPC full method
// and the outbound "METHOD host" the transport names.
const (
	Pattern    = "GET /items/{id}"
	Path       = "/items/42"
	GRPCMethod = "/grpc.health.v1.Health/Check"
	Upstream   = "inventory.internal:8443"
	Outbound   = "GET " + Upstream
)

// Rate and Burst are the per-tenant quota of the route: 10,000 calls a
// second, bursts of 1,000.
const (
	Rate  = 10_000
	Burst = 1_000
)

// Config returns the service's configuration file with a per-tenant burst
// of burst (Burst in the published route; BigBurst shows a burst past the
// interned header values costs the same).
func Config(burst int) string {
	return strings.NewReplacer("BURST", strconv.Itoa(burst), "RATE", strconv.Itoa(Rate)).Replace(`{
  "service": "shop",
  "governance": {},
  "throttles": {"tenant": {"rate": RATE, "burst": BURST, "key_by": "key"}},
  "breakers": {"per_route": {"partition_by": "operation"}},
  "bulkheads": {"api": {"max_concurrent": 1024}},
  "policies": [{
    "name": "api",
    "operations": ["` + Pattern + `", "` + GRPCMethod + `", "` + Outbound + `"],
    "governance": true,
    "throttle": "tenant",
    "breaker": "per_route",
    "bulkhead": "api"
  }]
}`)
}

// BigBurst is the burst of the large-quota variant.
const BigBurst = 100_000

// Registry loads Config(burst) into a new registry, as a service loads its
// file, with every gate on clk (nil: the system clock).
func Registry(burst int, clk baldur.Clock) (*registry.Registry, error) {
	cfg, err := registry.ParseConfig(strings.NewReader(Config(burst)))
	if err != nil {
		return nil, err
	}
	if clk == nil {
		clk = baldur.SystemClock()
	}
	reg := registry.New(registry.WithClock(clk))
	if err := reg.Load(cfg); err != nil {
		return nil, err
	}
	if reg.Policy(Pattern) == nil || reg.Policy(GRPCMethod) == nil || reg.Policy(Outbound) == nil {
		return nil, fmt.Errorf("route: the configuration routes no policy to the benchmark operations")
	}
	return reg, nil
}

// Mux returns a ServeMux serving h at Pattern (and a second route, so that
// the mux has a real table to search).
func Mux(h http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(Pattern, h)
	mux.Handle("POST /items", h)
	mux.Handle("GET /healthz", h)
	return mux
}

// ClientAddr returns the RemoteAddr of client i: one of many tenants, each
// on its own address, as a public endpoint sees them.
func ClientAddr(i int) string {
	return "198.51." + strconv.Itoa((i/256)%256) + "." + strconv.Itoa(i%256) + ":" + strconv.Itoa(40000+i%20000)
}

// ClientIP is ClientAddr without the port.
func ClientIP(i int) string {
	a := ClientAddr(i)
	return a[:strings.LastIndexByte(a, ':')]
}
