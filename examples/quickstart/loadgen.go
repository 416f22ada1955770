package main

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// flow is one stream of requests: paced at rate per second, or closed-loop
// with a number of workers that send back to back.
type flow struct {
	row     string // the table row it counts under
	method  string
	path    string
	tenant  string
	rate    int
	workers int
}

// loadgen sends flows to the demo server over loopback. Every phase is
// bounded in time and in requests in flight.
type loadgen struct {
	base   string
	client *http.Client
}

// maxInFlight bounds the paced requests outstanding at once.
const maxInFlight = 256

func newLoadgen(base string) *loadgen {
	tr := &http.Transport{MaxIdleConnsPerHost: maxInFlight, MaxConnsPerHost: maxInFlight, IdleConnTimeout: 30 * time.Second}
	return &loadgen{base: base, client: &http.Client{Transport: tr, Timeout: 5 * time.Second}}
}

func (l *loadgen) close() { l.client.CloseIdleConnections() }

// tally counts outcomes per row: "ok", "error" (a 5xx from the handler) or
// the rejection reason from X-Baldur-Reason.
type tally struct {
	mu   sync.Mutex
	rows map[string]map[string]int
	seen []string
}

func (t *tally) add(row, outcome string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rows == nil {
		t.rows = map[string]map[string]int{}
	}
	if t.rows[row] == nil {
		t.rows[row] = map[string]int{}
		t.seen = append(t.seen, row)
	}
	t.rows[row][outcome]++
}

func (l *loadgen) send(f flow, t *tally) {
	req, err := http.NewRequest(f.method, l.base+f.path, nil)
	if err != nil {
		t.add(f.row, "client_error")
		return
	}
	req.Header.Set("X-Tenant", f.tenant)
	resp, err := l.client.Do(req)
	if err != nil {
		t.add(f.row, "client_error")
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	switch reason := resp.Header.Get("X-Baldur-Reason"); {
	case reason != "":
		t.add(f.row, reason)
	case resp.StatusCode >= 500:
		t.add(f.row, "error")
	default:
		t.add(f.row, "ok")
	}
}

// drive runs every flow for d and returns the counts.
func (l *loadgen) drive(flows []flow, d time.Duration) *tally {
	t := &tally{}
	for _, f := range flows {
		t.add(f.row, "ok") // fix the row order, then undo
		t.rows[f.row]["ok"]--
	}
	deadline := time.Now().Add(d)
	inflight := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	for _, f := range flows {
		if f.workers > 0 {
			for range f.workers {
				wg.Go(func() {
					for time.Now().Before(deadline) {
						l.send(f, t)
					}
				})
			}
			continue
		}
		wg.Go(func() {
			tick := time.NewTicker(time.Second / time.Duration(f.rate))
			defer tick.Stop()
			for now := range tick.C {
				if now.After(deadline) {
					return
				}
				select {
				case inflight <- struct{}{}:
					wg.Go(func() {
						defer func() { <-inflight }()
						l.send(f, t)
					})
				default:
					t.add(f.row, "not_sent")
				}
			}
		})
	}
	wg.Wait()
	return t
}

// print writes one line per row: requests sent, admitted, handler errors,
// then each rejection reason seen in the phase.
func (t *tally) print(out io.Writer) {
	reasons := map[string]bool{}
	for _, m := range t.rows {
		for k, n := range m {
			if k != "ok" && k != "error" && n > 0 {
				reasons[k] = true
			}
		}
	}
	cols := make([]string, 0, len(reasons))
	for r := range reasons {
		cols = append(cols, r)
	}
	sort.Strings(cols)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "   tier\tsent\tadmitted\t5xx\t%s\t\n", strings.Join(prefixed(cols), "\t"))
	for _, row := range t.seen {
		m := t.rows[row]
		sent := 0
		for _, n := range m {
			sent += n
		}
		line := fmt.Sprintf("   %s\t%d\t%d\t%d", row, sent, m["ok"], m["error"])
		for _, c := range cols {
			line += fmt.Sprintf("\t%d", m[c])
		}
		fmt.Fprintln(tw, line+"\t")
	}
	_ = tw.Flush()
}

func prefixed(reasons []string) []string {
	out := make([]string, len(reasons))
	for i, r := range reasons {
		out[i] = "rejected:" + r
	}
	return out
}

// expect is what a phase must show for a row.
type expect struct {
	row string
	// admittedOnly: every request admitted, none rejected or failed.
	admittedOnly bool
	// mostlyAdmitted: at least 90 % admitted (a recovering breaker may
	// still turn a few away while its probes are out).
	mostlyAdmitted bool
	// reason: at least one rejection with this reason; with none, nothing
	// of the row admitted either.
	reason string
	none   bool
}

func (e expect) check(t *tally) string {
	m := t.rows[e.row]
	if m == nil {
		return fmt.Sprintf("row %q sent nothing", e.row)
	}
	total := 0
	for _, n := range m {
		total += n
	}
	switch {
	case e.admittedOnly && m["ok"] != total:
		return fmt.Sprintf("%s: %d of %d admitted, want all", e.row, m["ok"], total)
	case e.mostlyAdmitted && m["ok"]*10 < total*9:
		return fmt.Sprintf("%s: %d of %d admitted, want at least 90 %%", e.row, m["ok"], total)
	case e.reason != "" && m[e.reason] == 0:
		return fmt.Sprintf("%s: no %s rejection", e.row, e.reason)
	case e.none && m["ok"] > 0:
		return fmt.Sprintf("%s: %d admitted, want none", e.row, m["ok"])
	}
	return ""
}
