// Command demofleet runs three replicas of the quickstart service in one
// process, each with its own registry, its own Redis client, its own HTTP
// server and admin API on 127.0.0.1, over one redis-server it starts (unix
// socket, AOF on), and drives them through four phases:
//
//	a. a kill switch thrown through replica 1's admin API rejects on
//	   replicas 2 and 3 (and lifting it on replica 2 clears it everywhere);
//	b. a per-tenant limit holds fleet-wide: the tenant's admitted total
//	   stays within burst + rate·(w + L), not three times that;
//	c. Redis is killed mid-run: the throttle falls back to its local mode
//	   (limit ÷ live replicas) and governance holds its last state;
//	d. Redis is back: everything reconverges (throttle on Redis again, a
//	   change made on one replica reaches the others).
//
// It prints a table per phase and exits non-zero when an expectation
// fails. A phase whose fleet store is not built prints "SKIPPED: <store>
// store not built" and also makes it exit non-zero: see stores.go for the
// lines that plug the stores in.
//
//	make demo-fleet   (or: cd redisstore && go run ./cmd/demofleet)
package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/baldur-go/baldur/redisstore/internal/redistest"
	"github.com/baldur-go/baldur/registry"
	"github.com/redis/go-redis/v9"
)

//go:embed baldur.json
var configJSON []byte

// The demo's fleet and its bounds.
const (
	fleetSize      = 3
	tenantThrottle = "per_tenant" // the throttle of GET /api/items/{id}
	itemsPath      = "/api/items/1"
	recsPath       = "/api/recs"
	itemsOp        = "GET /api/items/{id}"
	recsOp         = "GET /api/recs"
	// propagationBound is the governance store's bound when a pub/sub
	// message is lost (the version poll, 1 s), plus the demo's polling.
	propagationBound = 1100 * time.Millisecond
	// reconvergeBound is how long Redis' return may take to be seen: the
	// breaker's open time (1 s, doubling while probes fail), a probe, the
	// subscriber's reconnect.
	reconvergeBound = 5 * time.Second
	limitWindow     = 2 * time.Second // how long the throttle phases send
	noisyRate       = 300             // requests per second per replica, three times the limit each
)

func main() {
	// The stores log breaker changes and warnings; the gates audit blocks.
	// Keep the output to the tables.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	redis.SetLogger(quietRedis{})
	code, err := run(os.Stdout, newStores())
	if err != nil {
		fmt.Fprintln(os.Stderr, "demofleet:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// demo is one run: the server, the replicas and the failures so far.
type demo struct {
	out    io.Writer
	st     stores
	srv    *redistest.Server
	reps   []*replica
	limit  registry.ThrottleSpec
	failed []string
	phase  string
}

// fail records an expectation that was not met.
func (d *demo) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	d.failed = append(d.failed, d.phase+": "+msg)
	fmt.Fprintf(d.out, "   UNEXPECTED: %s\n", msg)
}

// run runs the demo and returns the exit code: 0 when every phase ran and
// met its expectations, 1 otherwise. err is a failure to set up.
func run(out io.Writer, st stores) (int, error) {
	start := time.Now()
	cfg, err := registry.ParseConfig(bytes.NewReader(configJSON))
	if err != nil {
		return 1, err
	}
	srv, err := redistest.Launch(redistest.Options{AOF: true})
	if err != nil {
		return 1, err
	}
	defer srv.Close()
	cfg.Fleet.Address = srv.Socket()

	d := &demo{out: out, st: st, srv: srv, limit: cfg.Throttles[tenantThrottle]}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 1; i <= fleetSize; i++ {
		r, err := newReplica(ctx, i, fleetSize, cfg, st, slog.Default())
		if err != nil {
			return 1, fmt.Errorf("replica %d: %w", i, err)
		}
		defer r.close()
		d.reps = append(d.reps, r)
	}

	fmt.Fprintf(out, "baldur-go fleet demo: %d replicas of service %q, cluster %q, redis-server on %s (AOF on)\n",
		fleetSize, cfg.Service, cfg.Fleet.Cluster, srv.Socket())
	if st.Membership != nil {
		// The fail mode divides the limit by the live replicas each replica
		// counts: wait until every replica counts the whole fleet.
		fmt.Fprintf(out, "membership: every replica counts %d live replicas after %s\n", fleetSize, d.awaitMembers())
	}
	tb := &table{header: []string{"replica", "service", "admin API", "governance", "fleet throttle", "membership"}}
	for _, r := range d.reps {
		tb.add(r.id, r.base, r.adminBase, built(st.Governance != nil), built(st.Throttle != nil), built(st.Membership != nil))
	}
	tb.print(out)

	for _, ph := range []struct {
		name  string
		needs []need
		run   func()
	}{
		{"a. kill switch thrown through replica 1's admin API", []need{needGovernance}, d.killSwitch},
		{"b. per-tenant limit holds fleet-wide", []need{needThrottle}, d.fleetLimit},
		{"c. Redis killed mid-run: throttle falls back to local, governance holds its last state", []need{needGovernance, needThrottle, needMembership}, d.redisDown},
		{"d. Redis back: everything reconverges", []need{needGovernance, needThrottle, needMembership}, d.redisBack},
	} {
		d.phase = ph.name
		fmt.Fprintf(out, "\n%s\n", ph.name)
		if miss := st.missing(ph.needs...); len(miss) > 0 {
			for _, m := range miss {
				fmt.Fprintf(out, "   SKIPPED: %s store not built\n", m)
			}
			d.failed = append(d.failed, fmt.Sprintf("%s: SKIPPED (%v not built)", ph.name, miss))
			continue
		}
		ph.run()
	}
	fmt.Fprintf(out, "\ndone in %.1fs\n", time.Since(start).Seconds())
	if len(d.failed) > 0 {
		fmt.Fprintf(out, "FAILED: %d phase(s) skipped or with unmet expectations:\n", len(d.failed))
		for _, f := range d.failed {
			fmt.Fprintf(out, "   %s\n", f)
		}
		return 1, nil
	}
	fmt.Fprintln(out, "PASSED: every phase ran and met its expectations")
	return 0, nil
}

func built(ok bool) string {
	if ok {
		return "redis"
	}
	return "NOT BUILT"
}

func switchBody(op, reason string) string {
	return fmt.Sprintf(`{"scope": "operation", "pattern": %q, "reason": %q}`, op, reason)
}

func liftBody(op string) string { return fmt.Sprintf(`{"scope": "operation", "pattern": %q}`, op) }

// propagate throws (want "kill_switch") or lifts (want "ok") a switch
// through from's admin API, then measures when each replica's service
// answers want for path; it returns the times and reports replicas that
// did not within propagationBound.
func (d *demo) propagate(from *replica, method, body, path, want string) []string {
	// An operator retries a write that fails while the store is still
	// reconnecting; the bound below counts from the accepted write.
	var err error
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		if err = from.control(method, "/killswitch", body); err == nil || time.Since(start) > reconvergeBound {
			break
		}
	}
	t0 := time.Now()
	if err != nil {
		d.fail("%v", err)
		return make([]string, len(d.reps))
	}
	out := make([]string, len(d.reps))
	for i, r := range d.reps {
		took, ok := waitFor(r, path, "probe-"+r.id, want, t0, propagationBound)
		out[i] = fmt.Sprintf("%.0f ms", float64(took.Microseconds())/1000)
		if !ok {
			out[i] = "not within " + propagationBound.String()
			d.fail("%s did not answer %s on %s within %v of the change on %s", r.id, want, path, propagationBound, from.id)
		}
	}
	return out
}

// killSwitch is phase a.
func (d *demo) killSwitch() {
	r1, r2 := d.reps[0], d.reps[1]
	seen := d.propagate(r1, "POST", switchBody(itemsOp, "demo: bad deploy of items"), itemsPath, "kill_switch")
	var flows []flow
	for _, r := range d.reps {
		flows = append(flows, flow{row: r.id, r: r, path: itemsPath, tenant: "a-" + r.id, rate: 40})
	}
	t, _ := drive(flows, time.Second)
	lifted := d.propagate(r2, "DELETE", liftBody(itemsOp), itemsPath, "ok")

	tb := &table{header: []string{"replica", "switch seen after", "GET /api/items/1 sent", "rejected kill_switch", "lift (on replica-2) seen after"}}
	for i, r := range d.reps {
		tb.add(r.id, seen[i], t.sent(r.id), t.count(r.id, "kill_switch"), lifted[i])
		if n := t.sent(r.id); n == 0 || t.count(r.id, "kill_switch") != n {
			d.fail("%s rejected %d of %d requests with kill_switch, want all", r.id, t.count(r.id, "kill_switch"), n)
		}
	}
	tb.print(d.out)
}

// bound is the fleet bound on one key's admissions over a window w:
// burst + rate·(w + L), plus extra.
func (d *demo) bound(w time.Duration, extra int) int {
	return d.limit.Burst + int(d.limit.Rate*(w+d.st.LeaseWindow).Seconds()) + extra
}

// noisy drives tenant at noisyRate on every replica (plus extra flows)
// for limitWindow and prints the table with the fleet total; it returns
// the tally, the fleet's admitted total and the window.
func (d *demo) noisy(tenant string, extra ...flow) (*tally, int, time.Duration) {
	var flows []flow
	for _, r := range d.reps {
		flows = append(flows, flow{row: r.id + " items", r: r, path: itemsPath, tenant: tenant, rate: noisyRate})
	}
	t, w := drive(append(flows, extra...), limitWindow)
	admitted := 0
	for _, r := range d.reps {
		admitted += t.count(r.id+" items", "ok")
	}
	return t, admitted, w
}

// fleetLimit is phase b.
func (d *demo) fleetLimit() {
	before := d.fallbacks()
	t, admitted, w := d.noisy("noisy-b")
	t.table().print(d.out)
	d.printFallbacks(before)
	hi, lo := d.bound(w, 0), int(0.95*d.limit.Rate*limitWindow.Seconds())
	fmt.Fprintf(d.out, "   tenant noisy-b, fleet total admitted %d in %.2fs: bound burst + rate·(w + L) = %d + %g/s × (%.2fs + %v) = %d; at least 95%% of rate·T = %d\n",
		admitted, w.Seconds(), d.limit.Burst, d.limit.Rate, w.Seconds(), d.st.LeaseWindow, hi, lo)
	fmt.Fprintf(d.out, "   (per-replica in-memory buckets would admit up to %d × (%d + %g/s × %.2fs) = %d)\n",
		fleetSize, d.limit.Burst, d.limit.Rate, w.Seconds(), fleetSize*(d.limit.Burst+int(d.limit.Rate*w.Seconds())))
	if admitted > hi {
		d.fail("fleet admitted %d, above the bound %d", admitted, hi)
	}
	if admitted < lo {
		d.fail("fleet admitted %d, under 95%% of the limit (%d)", admitted, lo)
	}
}

// redisDown is phase c.
func (d *demo) redisDown() {
	r3 := d.reps[2]
	fmt.Fprintln(d.out, "   POST /killswitch on GET /api/recs through replica-3, then SIGKILL redis-server")
	d.propagate(r3, "POST", switchBody(recsOp, "demo: recs overload"), recsPath, "kill_switch")
	before := d.fallbacks()
	d.srv.Stop()
	// As a cache TTL expiring would: every checker reads the store again,
	// and the read fails.
	for _, r := range d.reps {
		r.reg.Governance.Get().InvalidateCache()
	}
	t, admitted, w := d.noisy("noisy-c", d.recsFlows("c-")...)
	t.table().print(d.out)
	after := d.fallbacks()

	tb := &table{header: []string{"replica", "live replicas seen", "local throttle decisions", "recs rejected kill_switch"}}
	for i, r := range d.reps {
		tb.add(r.id, r.member.Replicas(), after[i]-before[i], fmt.Sprintf("%d of %d", t.count(r.id+" recs", "kill_switch"), t.sent(r.id+" recs")))
		if after[i] == before[i] {
			d.fail("%s made no local throttle decision with Redis down", r.id)
		}
		if n := t.sent(r.id + " recs"); n == 0 || t.count(r.id+" recs", "kill_switch") != n {
			d.fail("%s did not hold its last governance state: %d of %d recs requests rejected with kill_switch", r.id, t.count(r.id+" recs", "kill_switch"), n)
		}
	}
	tb.print(d.out)
	// Local mode: each replica decides at limit ÷ N, so the fleet total is
	// at most the fleet bound plus one call of burst per replica (each local
	// bucket rounds its share of the burst up), and far from zero.
	hi, lo := d.bound(w, fleetSize), int(0.5*d.limit.Rate*limitWindow.Seconds())
	fmt.Fprintf(d.out, "   tenant noisy-c, fleet total admitted %d in %.2fs with Redis down: bound %d (burst + N + rate·(w + L)), at least %d (half the limit: not zeroed)\n",
		admitted, w.Seconds(), hi, lo)
	if admitted > hi {
		d.fail("fleet admitted %d with Redis down, above %d: the outage multiplied the limit", admitted, hi)
	}
	if admitted < lo {
		d.fail("fleet admitted %d with Redis down, under %d: the outage zeroed the limit", admitted, lo)
	}
}

// awaitMembers waits, up to membersBound, until every replica counts the
// whole fleet, and says how long it took.
func (d *demo) awaitMembers() string {
	t0 := time.Now()
	for time.Since(t0) < membersBound {
		all := true
		for _, r := range d.reps {
			all = all && r.member.Replicas() == fleetSize
		}
		if all {
			return fmt.Sprintf("%.0f ms", float64(time.Since(t0).Microseconds())/1000)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "more than " + membersBound.String()
}

// membersBound is four heartbeat intervals of the demo's membership.
const membersBound = time.Second

// redisBack is phase d.
func (d *demo) redisBack() {
	t0 := time.Now()
	if err := d.srv.Relaunch(); err != nil {
		d.fail("restart redis-server: %v", err)
		return
	}
	fmt.Fprintf(d.out, "   redis-server restarted (AOF loaded) in %v\n", time.Since(t0).Round(time.Millisecond))
	// Reconverged when 200 ms of the tenant traffic on every replica is
	// decided by Redis again (no new local decision): the breaker closed
	// and the pool refilled.
	converged := "not within " + reconvergeBound.String()
	for time.Since(t0) < reconvergeBound {
		before := d.fallbacks()
		var warm []flow
		for _, r := range d.reps {
			warm = append(warm, flow{row: r.id, r: r, path: itemsPath, tenant: "warm-d", rate: noisyRate})
		}
		drive(warm, 200*time.Millisecond)
		if slices.Equal(before, d.fallbacks()) {
			converged = fmt.Sprintf("%.0f ms", float64(time.Since(t0).Microseconds())/1000)
			break
		}
	}
	fmt.Fprintf(d.out, "   throttle decided by Redis again on every replica after %s\n", converged)
	if strings.HasPrefix(converged, "not") {
		d.fail("the throttle still decides locally %v after Redis came back", reconvergeBound)
	}
	fmt.Fprintf(d.out, "   membership: every replica counts %d live replicas again after %s\n", fleetSize, d.awaitMembers())
	lifted := d.propagate(d.reps[0], "DELETE", liftBody(recsOp), recsPath, "ok")
	before := d.fallbacks()
	t, admitted, w := d.noisy("noisy-d", d.recsFlows("d-")...)
	t.table().print(d.out)
	after := d.fallbacks()
	tb := &table{header: []string{"replica", "recs lift (on replica-1) seen after", "live replicas seen", "local throttle decisions"}}
	for i, r := range d.reps {
		tb.add(r.id, lifted[i], r.member.Replicas(), after[i]-before[i])
		if after[i] != before[i] {
			d.fail("%s made %d local throttle decisions with Redis back", r.id, after[i]-before[i])
		}
		if got := r.member.Replicas(); got != fleetSize {
			d.fail("%s sees %d live replicas, want %d", r.id, got, fleetSize)
		}
		if n := t.sent(r.id + " recs"); t.count(r.id+" recs", "ok") != n {
			d.fail("%s admitted %d of %d recs requests after the lift", r.id, t.count(r.id+" recs", "ok"), n)
		}
	}
	tb.print(d.out)
	hi := d.bound(w, 0)
	fmt.Fprintf(d.out, "   tenant noisy-d, fleet total admitted %d in %.2fs: bound %d\n", admitted, w.Seconds(), hi)
	if admitted > hi {
		d.fail("fleet admitted %d, above the bound %d", admitted, hi)
	}
}

// recsFlows returns a flow of GET /api/recs at 20/s per replica, one
// tenant per replica.
func (d *demo) recsFlows(tenant string) []flow {
	var out []flow
	for _, r := range d.reps {
		out = append(out, flow{row: r.id + " recs", r: r, path: recsPath, tenant: tenant + r.id, rate: 20})
	}
	return out
}

// printFallbacks prints the local throttle decisions since before: with
// Redis up there should be none (a call over the throttle deadline, or an
// open breaker, is decided locally).
func (d *demo) printFallbacks(before []uint64) {
	after := d.fallbacks()
	parts := make([]string, len(d.reps))
	for i, r := range d.reps {
		parts[i] = fmt.Sprintf("%s %d", r.id, after[i]-before[i])
	}
	fmt.Fprintf(d.out, "   local throttle decisions (Redis up, want 0): %s\n", strings.Join(parts, ", "))
}

// fallbacks returns every replica's count of local throttle decisions.
func (d *demo) fallbacks() []uint64 {
	out := make([]uint64, len(d.reps))
	for i, r := range d.reps {
		out[i] = r.fallbacks()
	}
	return out
}
