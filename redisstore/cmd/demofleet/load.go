package main

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// client sends the demo's requests; the load generator stands in for the
// load balancer, the one peer the replicas trust for X-Tenant.
var client = &http.Client{
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
	Timeout:   5 * time.Second,
}

// get sends one request and returns its outcome: "ok", the rejection
// reason (X-Baldur-Reason), "status NNN" or "error".
func get(r *replica, path, tenant string) string {
	req, err := http.NewRequest("GET", r.base+path, nil)
	if err != nil {
		return "error"
	}
	req.Header.Set("X-Tenant", tenant)
	resp, err := client.Do(req)
	if err != nil {
		return "error"
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 == 2 {
		return "ok"
	}
	if reason := resp.Header.Get("X-Baldur-Reason"); reason != "" {
		return reason
	}
	return "status " + strconv.Itoa(resp.StatusCode)
}

// flow is a paced stream of GET requests to one replica.
type flow struct {
	row    string // the table row it counts under
	r      *replica
	path   string
	tenant string
	rate   int // requests per second
}

// tally counts outcomes per row.
type tally struct {
	mu    sync.Mutex
	rows  map[string]map[string]int
	order []string
}

func (t *tally) add(row, outcome string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rows == nil {
		t.rows = map[string]map[string]int{}
	}
	if t.rows[row] == nil {
		t.rows[row] = map[string]int{}
		t.order = append(t.order, row)
	}
	t.rows[row][outcome]++
}

// count returns the outcomes of row; sent is their sum.
func (t *tally) count(row, outcome string) int { return t.rows[row][outcome] }

func (t *tally) sent(row string) int {
	n := 0
	for _, v := range t.rows[row] {
		n += v
	}
	return n
}

// maxInFlight bounds the requests outstanding at once.
const maxInFlight = 128

// drive sends flows for d and returns the tally and how long it took from
// the first request sent to the last answer received.
func drive(flows []flow, d time.Duration) (*tally, time.Duration) {
	t := &tally{}
	for _, f := range flows { // rows in flow order, even when one gets no answer
		t.add(f.row, "ok")
		t.rows[f.row]["ok"]--
	}
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for _, f := range flows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			interval := time.Second / time.Duration(f.rate)
			for next := start; next.Before(end); next = next.Add(interval) {
				time.Sleep(time.Until(next))
				sem <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					t.add(f.row, get(f.r, f.path, f.tenant))
					<-sem
				}()
			}
		}()
	}
	wg.Wait()
	return t, time.Since(start)
}

// waitFor polls get(r, path, tenant) every 10 ms until it answers want or
// bound passes, and returns how long it took and whether it happened.
func waitFor(r *replica, path, tenant, want string, since time.Time, bound time.Duration) (time.Duration, bool) {
	for {
		if get(r, path, tenant) == want {
			return time.Since(since), true
		}
		if time.Since(since) > bound {
			return time.Since(since), false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// table is one phase's printed table.
type table struct {
	header []string
	rows   [][]string
}

func (tb *table) add(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = fmt.Sprint(c)
	}
	tb.rows = append(tb.rows, row)
}

func (tb *table) print(out io.Writer) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "   "+strings.Join(tb.header, "\t"))
	for _, r := range tb.rows {
		fmt.Fprintln(w, "   "+strings.Join(r, "\t"))
	}
	_ = w.Flush()
}

// outcomes returns a table of t: sent, admitted, and each rejection reason.
func (t *tally) table() *table {
	reasons := map[string]bool{}
	for _, m := range t.rows {
		for o, n := range m {
			if o != "ok" && n > 0 {
				reasons[o] = true
			}
		}
	}
	cols := make([]string, 0, len(reasons))
	for o := range reasons {
		cols = append(cols, o)
	}
	sort.Strings(cols)
	tb := &table{header: append([]string{"flow", "sent", "admitted"}, cols...)}
	for _, row := range t.order {
		cells := []any{row, t.sent(row), t.count(row, "ok")}
		for _, o := range cols {
			cells = append(cells, t.count(row, o))
		}
		tb.add(cells...)
	}
	return tb
}
