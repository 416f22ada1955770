// Command overload offers a service of fixed capacity a multiple of that
// capacity and measures what its clients get. The service has bounded
// concurrency (-c slots) and a fixed service time (-s), so its capacity is
// c/s calls per second; an open-loop generator (fixed arrival rate, latency
// from the scheduled arrival) offers 0.5x, 1x, 2x and 5x of it, each phase
// bounded in time, against three configurations of the same service:
//
//	none      no protection: calls queue for a slot (honoring cancellation)
//	baldur    middleware.New over governance + throttle + bulkhead (registry)
//	failsafe  failsafe-go's bulkhead through failsafehttp
//
// It reports goodput (successful responses per second; every response the
// client waited for came within its -timeout), accepted p50/p99, and the
// share rejected or timed out, as a Markdown table, and draws -png.
//
// With -work cpu the service is CPU-bound instead: each call computes for
// -s on its goroutine (no sleeping), -c is the number of calls computing at
// once that the machine can serve (its cores), and "none" runs every call
// at once. There every rejection is CPU taken from the accepted calls (its
// HTTP round trip and the guard's own cost), so at a high multiple of
// capacity (-loads 20) what a rejection costs decides the goodput.
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
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/bench/internal/chart"
	"github.com/baldur-go/baldur/bench/internal/latency"
	"github.com/baldur-go/baldur/bench/internal/loadgen"
	"github.com/baldur-go/baldur/bench/internal/ours"
	"github.com/baldur-go/baldur/bench/internal/peer"
)

var (
	conc     = flag.Int("c", 8, "service concurrency (slots)")
	service  = flag.Duration("s", 10*time.Millisecond, "service time of one call")
	loadsArg = flag.String("loads", "0.5,1,2,5", "offered loads as multiples of capacity")
	configs  = flag.String("configs", "none,baldur,failsafe", "configurations to run")
	dur      = flag.Duration("d", 3*time.Second, "measured duration of each phase (capped at 10s)")
	timeout  = flag.Duration("timeout", time.Second, "client timeout: a call not answered by then is given up")
	maxWait  = flag.Duration("maxwait", 0, "bulkhead max wait (baldur and failsafe); 0 means half the service time")
	pngPath  = flag.String("png", "", "write the chart to this PNG file")
	work     = flag.String("work", "sleep", "what a call does for -s: sleep (a slot held while waiting) or cpu (computing)")
)

type point struct {
	load float64
	r    loadgen.Result
}

func main() {
	log.SetFlags(0)
	flag.Parse()
	if *maxWait == 0 {
		*maxWait = *service / 2
	}
	capacity := float64(*conc) / service.Seconds()
	var loads []float64
	for _, f := range strings.Split(*loadsArg, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 {
			log.Fatalf("bad load %q", f)
		}
		loads = append(loads, v)
	}
	if *work != "sleep" && *work != "cpu" {
		log.Fatalf("bad -work %q: want sleep or cpu", *work)
	}
	if *work == "cpu" {
		calibrate(*service)
		fmt.Printf("CPU-bound service: each call computes for %s (calibrated: %d rounds). ", *service, rounds)
	}
	fmt.Printf("Service: %d slots x %s = capacity %.0f req/s. Open-loop arrivals at a fixed rate, %s per phase, client timeout %s, bulkhead max wait %s, GOMAXPROCS=%d.\n\n",
		*conc, *service, capacity, *dur, *timeout, *maxWait, runtime.GOMAXPROCS(0))
	none := "the service's own slot queue"
	if *work == "cpu" {
		none = "no limit, every call computes at once"
	}
	fmt.Printf("baldur = %s. failsafe = failsafe-go bulkhead (%d slots, max wait %s) via failsafehttp.NewHandler. none = %s.\n\n",
		strings.Join(ours.OverloadParts, " "), *conc, *maxWait, none)
	fmt.Println("| config | offered | offered (req/s) | goodput (req/s) | goodput / capacity | accepted p50 (ms) | accepted p99 (ms) | rejected | timed out | failed | dropped |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	results := map[string][]point{}
	var names []string
	for _, cfg := range strings.Split(*configs, ",") {
		cfg = strings.TrimSpace(cfg)
		names = append(names, cfg)
		for _, load := range loads {
			r, err := phase(cfg, capacity, load)
			if err != nil {
				log.Fatalf("%s at %gx: %v", cfg, load, err)
			}
			results[cfg] = append(results[cfg], point{load, r})
			pct := func(n int64) string {
				if r.Sent == 0 {
					return "-"
				}
				return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(r.Sent))
			}
			fmt.Printf("| %s | %gx | %.0f | %.0f | %.0f%% | %.2f | %.2f | %s | %s | %s | %d |\n",
				cfg, load, load*capacity, r.Throughput(), 100*r.Throughput()/capacity,
				latency.Ms(r.Accepted.P50), latency.Ms(r.Accepted.P99),
				pct(r.Rejected), pct(r.TimedOut), pct(r.Failed), r.Dropped)
		}
	}
	verdict(results, capacity)
	if *pngPath != "" {
		if err := draw(*pngPath, names, results, capacity); err != nil {
			log.Fatal(err)
		}
	}
}

// verdict compares each protected config at its highest load against the
// design targets: accepted p99 within 2x of the unloaded p99 (the "none"
// config at the lowest load), goodput >= 90 % of capacity.
func verdict(results map[string][]point, capacity float64) {
	base, ok := results["none"]
	if !ok || len(base) == 0 {
		return
	}
	unloaded := base[0].r.Accepted.P99
	fmt.Printf("\nUnloaded p99 (none at %gx): %.2f ms. Targets at the highest load: accepted p99 <= 2x unloaded = %.2f ms; goodput >= 90%% of capacity = %.0f req/s.\n\n",
		base[0].load, latency.Ms(unloaded), latency.Ms(2*unloaded), 0.9*capacity)
	for _, name := range []string{"baldur", "failsafe", "none"} {
		pts := results[name]
		if len(pts) == 0 {
			continue
		}
		last := pts[len(pts)-1]
		p99ok := last.r.Accepted.P99 <= 2*unloaded
		gpok := last.r.Throughput() >= 0.9*capacity
		fmt.Printf("- %s at %gx: accepted p99 %.2f ms (%s), goodput %.0f req/s = %.0f%% of capacity (%s)\n",
			name, last.load, latency.Ms(last.r.Accepted.P99), okWord(p99ok), last.r.Throughput(), 100*last.r.Throughput()/capacity, okWord(gpok))
	}
}

func okWord(ok bool) string {
	if ok {
		return "meets target"
	}
	return "MISSES target"
}

// phase starts a fresh server for cfg, offers load x capacity for the
// phase duration and stops the server.
func phase(cfg string, capacity, load float64) (loadgen.Result, error) {
	slots := make(chan struct{}, *conc)
	svc := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // the service's own capacity: a queue for a slot
		case slots <- struct{}{}:
		case <-r.Context().Done():
			return
		}
		t := time.NewTimer(*service)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
		<-slots
		w.WriteHeader(http.StatusOK)
	})
	if *work == "cpu" {
		svc = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			compute(rounds)
			w.WriteHeader(http.StatusOK)
		})
	}
	var h http.Handler
	switch cfg {
	case "none":
		h = svc
	case "baldur":
		res, err := ours.OverloadResolver(*conc, capacity, *maxWait)
		if err != nil {
			return loadgen.Result{}, err
		}
		h = ours.Middleware(res, svc)
	case "failsafe":
		h = peer.FailsafeHTTPWith(svc, peer.FailsafeBulkhead[*http.Response](*conc, *maxWait))
	default:
		return loadgen.Result{}, fmt.Errorf("unknown config %q", cfg)
	}
	mux := http.NewServeMux()
	mux.Handle(ours.Operation, h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return loadgen.Result{}, err
	}
	srv := &http.Server{Handler: mux, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	tr := &http.Transport{MaxIdleConns: 8192, MaxIdleConnsPerHost: 8192, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := "http://" + ln.Addr().String() + "/items/1"
	call := loadgen.HTTPGet(client, url)
	// Warm the connection pool at a gentle rate so that the phase does not
	// measure connection setup.
	loadgen.Open(context.Background(), call, capacity/2, 1000, loadgen.Limits{Duration: 200 * time.Millisecond, Timeout: *timeout})
	maxInFlight := int(load*capacity*timeout.Seconds()) + 1000
	return loadgen.Open(context.Background(), call, load*capacity, maxInFlight,
		loadgen.Limits{Duration: *dur, MaxCalls: int64(load * capacity * dur.Seconds() * 1.1), Timeout: *timeout}), nil
}

func draw(path string, names []string, results map[string][]point, capacity float64) error {
	var lat, good []chart.Series
	var ticks []float64
	for i, name := range names {
		s := chart.Series{Name: name, Color: chart.Palette[i%len(chart.Palette)]}
		g := s
		for _, p := range results[name] {
			s.X = append(s.X, p.load)
			s.Y = append(s.Y, latency.Ms(p.r.Accepted.P99))
			g.X = append(g.X, p.load)
			g.Y = append(g.Y, p.r.Throughput())
			if i == 0 {
				ticks = append(ticks, p.load)
			}
		}
		lat, good = append(lat, s), append(good, g)
	}
	lp := chart.Panel{Title: "Accepted p99 latency vs offered load", XLabel: "offered load (x capacity)", YLabel: "ms (log)",
		LogY: true, LogX: true, XTicks: ticks, Series: lat}
	if base := results["none"]; len(base) > 0 {
		lp.Ref.Y = 2 * latency.Ms(base[0].r.Accepted.P99)
		lp.Ref.Label = "2x unloaded p99"
	}
	gp := chart.Panel{Title: "Goodput vs offered load", XLabel: "offered load (x capacity)", YLabel: "req/s",
		LogX: true, XTicks: ticks, Series: good}
	gp.Ref.Y, gp.Ref.Label = capacity, "capacity"
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	caption := fmt.Sprintf("Overload: %d slots x %s service time (capacity %.0f req/s), open loop, %s per point, client timeout %s, GOMAXPROCS=%d",
		*conc, *service, capacity, *dur, *timeout, runtime.GOMAXPROCS(0))
	if err := chart.Render(f, caption, lp, gp); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rounds is how many rounds of compute take the service time on one core.
var rounds int

// sink keeps compute's results alive.
var sink atomic.Uint64

// compute does n rounds of arithmetic that the compiler cannot drop.
func compute(n int) {
	x := uint64(n) | 1
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	sink.Add(x)
}

// calibrate sets rounds so that compute(rounds) takes about d, measured
// with nothing else running.
func calibrate(d time.Duration) {
	n := 1 << 16
	for {
		start := time.Now()
		compute(n)
		if el := time.Since(start); el >= 20*time.Millisecond {
			rounds = int(float64(n) * float64(d) / float64(el))
			return
		}
		n *= 2
	}
}
