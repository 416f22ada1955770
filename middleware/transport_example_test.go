package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/baldur-go/baldur"
	"github.com/baldur-go/baldur/middleware"
)

// busyUpstreamGate stands in for a bulkhead that is full.
type busyUpstreamGate struct{}

func (busyUpstreamGate) Stage() baldur.Stage { return baldur.StageBulkhead }
func (busyUpstreamGate) Admit(context.Context, baldur.Call) (baldur.Permit, error) {
	return baldur.Permit{}, baldur.Reject(baldur.ReasonBulkheadFull, 1)
}

func ExampleTransport() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/busy" {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer upstream.Close()

	// Guard outbound calls: policies per operation ("GET host:port"),
	// partitions per upstream host. No policy here: only cooldowns.
	client := &http.Client{Transport: middleware.NewTransport(baldur.Static(nil), middleware.TransportConfig{})}

	resp, err := client.Get(upstream.URL + "/busy")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close() // releases the permits, as reading to EOF does
	fmt.Println("first:", resp.StatusCode)

	// The host now cools down for 30 s: no request goes out.
	_, err = client.Get(upstream.URL + "/")
	rej, _ := baldur.AsRejection(err)
	fmt.Println("second rejected:", errors.Is(err, middleware.ErrCooldown), errors.Is(err, baldur.ErrRejected), rej.RetryAfter())

	// A policy rejection does no network I/O either.
	p, _ := baldur.NewPolicy(baldur.PolicyConfig{Name: "out", Gates: []baldur.Gate{busyUpstreamGate{}}})
	guarded := &http.Client{Transport: middleware.NewTransport(baldur.Static(p), middleware.TransportConfig{})}
	_, err = guarded.Get(upstream.URL + "/")
	fmt.Println("bulkhead full:", errors.Is(err, baldur.ErrBulkheadFull))
	// Output:
	// first: 429
	// second rejected: true true 30s
	// bulkhead full: true
}
