// Command httpclient shows the outbound transport on loopback: an upstream
// that answers 503 with Retry-After puts itself into a cooldown (requests
// are rejected without network I/O, then one probe goes first), and a
// one-slot bulkhead shows that a permit is held until the response body is
// closed. It exits by itself.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/middleware"
)

// oneSlot is a stand-in for a bulkhead of one slot that never waits.
type oneSlot struct{ busy atomic.Bool }

func (*oneSlot) Stage() baldur.Stage { return baldur.StageBulkhead }

func (s *oneSlot) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	if !s.busy.CompareAndSwap(false, true) {
		return baldur.Permit{}, baldur.Reject(baldur.ReasonBulkheadFull, time.Second)
	}
	return baldur.NewPermit(s, 0), nil
}

func (s *oneSlot) Release(uint64, baldur.Outcome) { s.busy.Store(false) }

func main() {
	if err := run(); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func run() error {
	var hits atomic.Int64
	var healthy atomic.Bool
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if !healthy.Load() {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer upstream.Close()
	fmt.Println("upstream on", upstream.URL)

	slot := &oneSlot{}
	policy, err := baldur.NewPolicy(baldur.PolicyConfig{Name: "upstream", Gates: []baldur.Gate{slot}})
	if err != nil {
		return err
	}
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: middleware.NewTransport(baldur.Static(policy), middleware.TransportConfig{
			// A short backoff so that the upstream's Retry-After (1 s) rules.
			Cooldown: middleware.Cooldown{Initial: 100 * time.Millisecond},
		}),
	}
	get := func(label string) (*http.Response, error) {
		resp, err := client.Get(upstream.URL + "/items")
		switch {
		case err != nil:
			rej, _ := baldur.AsRejection(err)
			fmt.Printf("%-9s rejected: %v (cooldown=%v, retry after %v, upstream hits so far %d)\n",
				label, rej.Reason(), errors.Is(err, middleware.ErrCooldown), rej.RetryAfter(), hits.Load())
		default:
			fmt.Printf("%-9s %d (upstream hits so far %d)\n", label, resp.StatusCode, hits.Load())
		}
		return resp, err
	}
	drain := func(resp *http.Response) {
		if resp != nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}

	fmt.Println("-- cooldown")
	resp, _ := get("first")
	drain(resp)
	if _, err := get("second"); !errors.Is(err, middleware.ErrCooldown) {
		return fmt.Errorf("expected a cooldown rejection, got %v", err)
	}
	healthy.Store(true)
	time.Sleep(1100 * time.Millisecond) // the example runs on real time
	resp, err = get("probe")
	if err != nil {
		return err
	}
	drain(resp)
	resp, err = get("after")
	if err != nil {
		return err
	}
	drain(resp)

	fmt.Println("-- bulkhead: the permit is held until the body is closed")
	held, err := get("held")
	if err != nil {
		return err
	}
	if _, err := get("while"); !errors.Is(err, baldur.ErrBulkheadFull) {
		return fmt.Errorf("expected bulkhead_full, got %v", err)
	}
	drain(held)
	resp, err = get("closed")
	if err != nil {
		return err
	}
	drain(resp)
	return nil
}
