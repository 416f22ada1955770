// Command load measures the end-to-end cost of the guard on loopback: it
// starts a server on 127.0.0.1:0 (bare, or behind our chain, or behind a
// peer's), drives it in a closed loop (N workers back to back: throughput)
// and an open loop (a fixed arrival rate: latency), and prints a Markdown
// table with throughput, p50/p99/p99.9 latency and the ratio to the bare
// server. Every phase is bounded in requests (-n) and time (-d, at most 10 s).
//
//	go run ./cmd/load -proto http,grpc -loop closed,open -d 3s
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/baldur-go/baldur/bench/internal/latency"
	"github.com/baldur-go/baldur/bench/internal/loadgen"
	"github.com/baldur-go/baldur/bench/internal/ours"
	"github.com/baldur-go/baldur/bench/internal/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

var (
	protos   = flag.String("proto", "http,grpc", "protocols to test: http, grpc")
	chains   = flag.String("chain", "bare,baldur,failsafe,handrolled,ratelimit", "chains to test (ratelimit is gRPC only)")
	loops    = flag.String("loop", "closed,open", "load models: closed (N workers), open (fixed arrival rate)")
	workers  = flag.Int("workers", 32, "closed loop: concurrent workers")
	rate     = flag.Float64("rate", 2000, "open loop: arrivals per second")
	dur      = flag.Duration("d", 3*time.Second, "measured duration of each phase (capped at 10s)")
	maxCalls = flag.Int64("n", 300000, "maximum requests per phase")
	warmup   = flag.Duration("warmup", 300*time.Millisecond, "unmeasured closed-loop warm-up per server")
	timeout  = flag.Duration("timeout", 2*time.Second, "per-request timeout")
)

func main() {
	log.SetFlags(0)
	flag.Parse()
	fmt.Printf("Loopback load, GOMAXPROCS=%d, closed loop %d workers, open loop %.0f req/s, %s per phase (max %d requests).\n\n",
		runtime.GOMAXPROCS(0), *workers, *rate, *dur, *maxCalls)
	fmt.Printf("baldur = %s.\n\n", ours.Describe())
	fmt.Println("failsafe = failsafe-go rate limiter + bulkhead + circuit breaker (failsafehttp / failsafegrpc); handrolled = x/time/rate + channel semaphore + gobreaker; ratelimit = go-grpc-middleware ratelimit over x/time/rate. All limits are set so that nothing is rejected: this measures the cost of admission.")
	fmt.Println()
	fmt.Println("| proto | chain | loop | requests | rejected | timeouts | failed | throughput (req/s) | vs bare | p50 (ms) | p99 (ms) | p99.9 (ms) |")
	fmt.Println("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, proto := range split(*protos) {
		base := map[string]float64{}
		for _, chain := range split(*chains) {
			srv, call, err := start(proto, chain)
			if err != nil {
				log.Printf("skip %s/%s: %v", proto, chain, err)
				continue
			}
			loadgen.Closed(context.Background(), call, *workers, loadgen.Limits{Duration: *warmup, MaxCalls: *maxCalls, Timeout: *timeout})
			for _, loop := range split(*loops) {
				lim := loadgen.Limits{Duration: *dur, MaxCalls: *maxCalls, Timeout: *timeout}
				var r loadgen.Result
				switch loop {
				case "closed":
					r = loadgen.Closed(context.Background(), call, *workers, lim)
				case "open":
					r = loadgen.Open(context.Background(), call, *rate, 10000, lim)
				default:
					log.Fatalf("unknown loop %q", loop)
				}
				if chain == "bare" {
					base[loop] = r.Throughput()
				}
				vs := "-"
				if b := base[loop]; b > 0 {
					vs = fmt.Sprintf("%.2f", r.Throughput()/b)
				}
				fmt.Printf("| %s | %s | %s | %d | %d | %d | %d | %.0f | %s | %.3f | %.3f | %.3f |\n",
					proto, chain, loop, r.Sent, r.Rejected, r.TimedOut, r.Failed, r.Throughput(), vs,
					latency.Ms(r.Accepted.P50), latency.Ms(r.Accepted.P99), latency.Ms(r.Accepted.P999))
			}
			srv()
		}
	}
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

var okBody = []byte("ok\n")

func okHandler(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(okBody) }

// start starts the server for proto behind chain and returns its stop
// function and a call function for the load generator.
func start(proto, chain string) (stop func(), call loadgen.Func, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	switch proto {
	case "http":
		return startHTTP(ln, chain)
	case "grpc":
		return startGRPC(ln, chain)
	}
	ln.Close()
	return nil, nil, fmt.Errorf("unknown proto %q", proto)
}

func startHTTP(ln net.Listener, chain string) (func(), loadgen.Func, error) {
	var h http.Handler = http.HandlerFunc(okHandler)
	switch chain {
	case "bare":
	case "baldur":
		h = ours.Middleware(ours.Resolver(), h)
	case "failsafe":
		h = peer.FailsafeHTTP(h, peer.Admit)
	case "handrolled":
		h = peer.HandrolledHTTP(h, peer.Admit)
	default:
		ln.Close()
		return nil, nil, fmt.Errorf("no HTTP chain %q", chain)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", h)
	srv := &http.Server{Handler: mux, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	tr := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, DisableCompression: true}
	client := &http.Client{Transport: tr}
	url := "http://" + ln.Addr().String() + "/items/42"
	call := loadgen.HTTPGet(client, url)
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		tr.CloseIdleConnections()
	}
	return stop, call, nil
}

func startGRPC(ln net.Listener, chain string) (func(), loadgen.Func, error) {
	var opts []grpc.ServerOption
	switch chain {
	case "bare":
	case "baldur":
		opts = append(opts, grpc.UnaryInterceptor(ours.Unary(ours.Resolver())))
	case "failsafe":
		opts = append(opts, grpc.UnaryInterceptor(peer.FailsafeUnary(peer.Admit)))
	case "handrolled":
		opts = append(opts, grpc.UnaryInterceptor(peer.HandrolledUnary(peer.Admit)))
	case "ratelimit":
		opts = append(opts, grpc.UnaryInterceptor(peer.RatelimitUnary(peer.Admit)))
	default:
		ln.Close()
		return nil, nil, fmt.Errorf("no gRPC chain %q", chain)
	}
	srv := grpc.NewServer(opts...)
	grpc_health_v1.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(ln) }()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		srv.Stop()
		return nil, nil, err
	}
	client := grpc_health_v1.NewHealthClient(conn)
	req := &grpc_health_v1.HealthCheckRequest{}
	call := func(ctx context.Context) loadgen.Status {
		_, err := client.Check(ctx, req)
		switch status.Code(err) {
		case codes.OK:
			return loadgen.OK
		case codes.ResourceExhausted, codes.Unavailable:
			return loadgen.Rejected
		}
		return loadgen.Failed
	}
	stop := func() {
		conn.Close()
		srv.Stop()
	}
	return stop, call, nil
}

func init() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: load [flags]")
		flag.PrintDefaults()
	}
}
